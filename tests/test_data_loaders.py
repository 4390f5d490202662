"""D4RL hdf5 and Minari loaders, on small synthetic files, against a loop-by-loop reference."""

from __future__ import annotations

import socket

import h5py
import numpy as np
import pytest

from drol.cli import main
from drol.data import fetch as fetch_mod
from drol.data.d4rl import d4rl_url, find_d4rl_dataset, load_d4rl_hdf5
from drol.data.minari import load_minari_dir
from drol.data.paths import MissingDatasetError

KEYS = ("observations", "actions", "next_observations", "rewards", "masks", "terminals")


def make_episodes(lengths, terminated, obs_dim=4, act_dim=3, seed=0):
    """Episodes of T steps: T + 1 observations (the last is the final next observation)."""
    rng = np.random.default_rng(seed)
    eps = []
    for t, term in zip(lengths, terminated, strict=True):
        eps.append(
            dict(
                obs=rng.normal(size=(t + 1, obs_dim)).astype(np.float32),
                actions=rng.uniform(-1.2, 1.2, size=(t, act_dim)).astype(np.float32),
                rewards=rng.integers(0, 2, size=t).astype(np.float32),
                terminated=term,
            )
        )
    return eps


def write_d4rl(path, eps, timeouts=True):
    """D4RL layout: T rows per episode (its last next observation is not stored)."""
    obs = np.concatenate([e["obs"][:-1] for e in eps])
    terms, touts = [], []
    for e in eps:
        t = len(e["actions"])
        terms.append(np.r_[np.zeros(t - 1, bool), [e["terminated"]]])
        touts.append(np.r_[np.zeros(t - 1, bool), [not e["terminated"]]])
    with h5py.File(path, "w") as f:
        f["observations"] = obs
        f["actions"] = np.concatenate([e["actions"] for e in eps])
        f["rewards"] = np.concatenate([e["rewards"] for e in eps])
        f["terminals"] = np.concatenate(terms)
        if timeouts:
            f["timeouts"] = np.concatenate(touts)
        f["infos/qpos"] = np.zeros((len(obs), 2))


def write_minari(root, eps, dict_obs=False):
    data = root / "data"
    data.mkdir(parents=True)
    with h5py.File(data / "main_data.hdf5", "w") as f:
        for k, e in enumerate(eps):
            g = f.create_group(f"episode_{k}")
            if dict_obs:
                g["observations/achieved_goal"] = e["obs"][:, :2]
                g["observations/observation"] = e["obs"][:, 2:]
                g["observations/desired_goal"] = np.ones((len(e["obs"]), 2))
            else:
                g["observations"] = e["obs"]
            t = len(e["actions"])
            g["actions"] = e["actions"]
            g["rewards"] = e["rewards"]
            g["terminations"] = np.r_[np.zeros(t - 1, bool), [e["terminated"]]]
            g["truncations"] = np.r_[np.zeros(t - 1, bool), [not e["terminated"]]]
    (data / "metadata.json").write_text("{}")


def reference(path, task, max_steps=1000):
    """d4rl.qlearning_dataset (terminate_on_end=False) then FQL's get_dataset, as plain loops."""
    with h5py.File(path, "r") as f:
        ds = {k: f[k][()] for k in f if k != "infos"}
    n = len(ds["rewards"])
    o, a, no, r, d = [], [], [], [], []
    step = 0
    for i in range(n - 1):
        final = bool(ds["timeouts"][i]) if "timeouts" in ds else step == max_steps - 1
        if final:
            step = 0
            continue
        if ds["terminals"][i]:
            step = 0
        o.append(ds["observations"][i])
        no.append(ds["observations"][i + 1])
        a.append(ds["actions"][i])
        r.append(ds["rewards"][i])
        d.append(bool(ds["terminals"][i]))
        step += 1
    o, no, a, r, d = map(np.array, (o, no, a, r, d))
    term = np.zeros(len(r))
    for i in range(len(r) - 1):
        gap = np.linalg.norm(o[i + 1] - no[i]) > 1e-6
        term[i] = gap if "antmaze" in task else (gap or d[i])
    term[-1] = 1
    return dict(
        observations=o,
        actions=np.clip(a, -1 + 1e-5, 1 - 1e-5),
        next_observations=no,
        rewards=r - 1 if "antmaze" in task else r,
        masks=1.0 - d,
        terminals=term,
    )


def assert_same(got, want):
    assert set(got) == set(KEYS)
    for k in KEYS:
        assert got[k].dtype == np.float32, k
        np.testing.assert_allclose(got[k], want[k], err_msg=k, rtol=0, atol=0)


@pytest.mark.parametrize("task", ["antmaze-umaze-v2", "pen-human-v1"])
@pytest.mark.parametrize("timeouts", [True, False])
def test_d4rl_matches_reference(tmp_path, task, timeouts):
    max_steps = 700 if task.startswith("antmaze") else 100
    lengths = [5, 4, 6, 7, 3] if timeouts else [max_steps, 4, max_steps]
    eps = make_episodes(lengths, [False, True, False, True, False][: len(lengths)])
    path = tmp_path / "d.hdf5"
    write_d4rl(path, eps, timeouts=timeouts)
    got = load_d4rl_hdf5(path, task)
    assert_same(got, reference(path, task, max_steps))
    if timeouts:
        # dropped: 2 timeout rows and the last row (itself a timeout)
        assert len(got["rewards"]) == sum(lengths) - 3
    assert got["terminals"][-1] == 1 and np.abs(got["actions"]).max() < 1
    if task.startswith("antmaze"):
        assert set(np.unique(got["rewards"])) <= {-1.0, 0.0}


@pytest.mark.parametrize("task", ["antmaze-large-play-v2", "door-cloned-v1"])
def test_minari_equals_d4rl_on_the_same_episodes(tmp_path, task):
    eps = make_episodes([5, 6, 4], [False, False, False], seed=1)
    write_d4rl(tmp_path / "d.hdf5", eps)
    write_minari(tmp_path / "m", eps, dict_obs=task.startswith("antmaze"))
    assert_same(load_minari_dir(tmp_path / "m", task), load_d4rl_hdf5(tmp_path / "d.hdf5", task))


def test_minari_terminations_and_kept_final_transition(tmp_path):
    eps = make_episodes([5, 4], [True, False], seed=2)
    write_minari(tmp_path / "m", eps)
    got = load_minari_dir(tmp_path / "m" / "data", "pen-human-v1")
    assert len(got["rewards"]) == 5 + 3  # the truncated episode's last step is dropped
    assert got["masks"].tolist() == [1, 1, 1, 1, 0] + [1, 1, 1]
    assert got["terminals"].tolist() == [0, 0, 0, 0, 1] + [0, 0, 1]
    np.testing.assert_array_equal(got["next_observations"][4], eps[0]["obs"][5])
    kept = load_minari_dir(tmp_path / "m", "pen-human-v1", drop_truncated_last=False)
    assert len(kept["rewards"]) == 9


def test_missing_files_name_the_file_and_url(tmp_path, monkeypatch):
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "cache"))
    url = d4rl_url("antmaze-large-play-v2")
    assert url.endswith(
        "ant_maze_v2/Ant_maze_hardest-maze_noisy_multistart_True_multigoal_False_sparse_fixed.hdf5"
    )
    assert d4rl_url("pen-human-v1").endswith("hand_dapg_v1/pen-human-v1.hdf5")
    with pytest.raises(MissingDatasetError, match="Ant_maze_hardest-maze") as err:
        find_d4rl_dataset("antmaze-large-play-v2")
    assert url in str(err.value) and str(tmp_path / "cache") in str(err.value)
    with pytest.raises(MissingDatasetError, match="pen-human-v1.hdf5"):
        load_d4rl_hdf5(tmp_path / "pen-human-v1.hdf5", "pen-human-v1")
    with pytest.raises(MissingDatasetError, match="main_data.hdf5"):
        load_minari_dir(tmp_path / "nothing", "pen-human-v1")


def test_d4rl_bad_files(tmp_path):
    bad = tmp_path / "bad.hdf5"
    bad.write_bytes(b"garbage")
    with pytest.raises(Exception, match="not a readable hdf5"):
        load_d4rl_hdf5(bad, "pen-human-v1")
    with h5py.File(tmp_path / "short.hdf5", "w") as f:
        f["observations"] = np.zeros((5, 2))
        f["actions"] = np.zeros((4, 2))
        f["rewards"] = np.zeros(5)
        f["terminals"] = np.zeros(5)
    with pytest.raises(Exception, match="actions: 4 rows"):
        load_d4rl_hdf5(tmp_path / "short.hdf5", "pen-human-v1")


def test_fetch_offline_fails_fast_with_urls(tmp_path, capsys, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    assert main(["data", "fetch", "cube-single-play-v0", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    for needle in (
        fetch_mod.DATASET_URL + "/cube-single-play-v0.npz",
        "cube-single-play-v0-val.npz",
        str(tmp_path),
    ):
        assert needle in err
    assert main(["data", "fetch", "nope-v0", "--out", str(tmp_path)]) == 2
    assert "unknown dataset" in capsys.readouterr().err
