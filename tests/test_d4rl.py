"""D4RL 1.1 envs through the worker: protocol, errors, equality with direct stepping, training.

Tests that need the D4RL venv (``drol d4rl setup``) skip with a one-line reason without it;
CI builds it (.ci/run step ``d4rl``).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drol.d4rl import protocol
from drol.d4rl.client import D4RLEnv, D4RLWorkerError, normalized_score
from drol.d4rl.install import D4RL_PIN, PINS, d4rl_python
from drol.errors import EnvFailedError, EnvUnavailableError

HERE = Path(__file__).parent


def _d4rl_python() -> Path | None:
    try:
        return d4rl_python()
    except EnvUnavailableError:
        return None


D4RL_PY = _d4rl_python()
needs_d4rl = pytest.mark.skipif(
    D4RL_PY is None, reason="D4RL venv not built (run `drol d4rl setup`)"
)


# ---------------------------------------------------------------- no venv needed
def test_protocol_round_trip_keeps_arrays_exactly():
    a = np.random.default_rng(0).normal(size=(3, 29))
    msg = protocol.encode({"cmd": "step", "x": 1}, {"a": a, "b": np.array([True, False])})
    header, arrays = protocol.read(io.BytesIO(msg))
    assert header == {"cmd": "step", "x": 1}
    assert arrays["a"].dtype == np.float64 and np.array_equal(arrays["a"], a)
    assert arrays["b"].tolist() == [True, False]


def test_protocol_refuses_object_arrays_and_unknown_dtypes():
    with pytest.raises(protocol.ProtocolError, match="not allowed"):
        protocol.encode({}, {"x": np.array([{"evil": 1}], dtype=object)})
    head = json.dumps({"arrays": ["x"], "dtypes": ["|O"], "shapes": [[1]]}).encode()
    msg = len(head).to_bytes(4, "big") + head + b"\0" * 8
    with pytest.raises(protocol.ProtocolError, match="not allowed"):
        protocol.read(io.BytesIO(msg))


def test_protocol_truncated_stream_is_a_protocol_error():
    msg = protocol.encode({"cmd": "reset"}, {"a": np.zeros(4)})
    with pytest.raises(protocol.ProtocolError):
        protocol.read(io.BytesIO(msg[:-3]))


def test_missing_setup_names_the_setup_command(tmp_path, monkeypatch):
    monkeypatch.setenv("DROL_D4RL_VENV", str(tmp_path / "none"))
    monkeypatch.delenv("DROL_D4RL_VENV_PYTHON", raising=False)
    with pytest.raises(EnvUnavailableError, match="drol d4rl setup"):
        D4RLEnv("antmaze-umaze-v2")


def test_d4rl_train_without_setup_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    from drol.cli import main

    monkeypatch.setenv("DROL_D4RL_VENV", str(tmp_path / "none"))
    monkeypatch.delenv("DROL_D4RL_VENV_PYTHON", raising=False)
    _write_d4rl_hdf5(tmp_path, "antmaze-umaze-v2", obs_dim=29, act_dim=8)
    args = ["train", "--task", "antmaze-umaze-v2", "--method", "fql", "--steps", "2"]
    args += ["--set", "batch_size=16"]  # the 50-row file: batch_size <= rows is checked first
    args += ["--data-dir", str(tmp_path), "--out", str(tmp_path / "run")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "drol d4rl setup" in err[0]
    assert not (tmp_path / "run").exists()  # checked before the lock: no FAILED run dir


def test_d4rl_check_without_setup_errors_before_the_table(tmp_path, monkeypatch, capsys):
    from drol.cli import main

    monkeypatch.setenv("DROL_D4RL_VENV", str(tmp_path / "none"))
    monkeypatch.delenv("DROL_D4RL_VENV_PYTHON", raising=False)
    assert main(["d4rl", "check", "pen-human-v1"]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no table header before the error
    assert len(err.strip().splitlines()) == 1 and "drol d4rl setup" in err
    monkeypatch.setenv("DROL_D4RL_VENV_PYTHON", str(tmp_path / "nopython"))
    assert main(["d4rl", "check", "pen-human-v1"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and f"$DROL_D4RL_VENV_PYTHON: {tmp_path / 'nopython'} does not exist" in err


def test_train_finds_d4rl_data_in_drol_data_dir_as_rollout_writes_it(tmp_path, monkeypatch, capsys):
    """One default data root for every command: $DROL_DATA_DIR, read when the command runs."""
    from drol.cli import main

    monkeypatch.setenv("DROL_D4RL_VENV", str(tmp_path / "none"))
    monkeypatch.delenv("DROL_D4RL_VENV_PYTHON", raising=False)
    monkeypatch.delenv("DROL_DATA_DIR", raising=False)
    monkeypatch.setenv("D4RL_DATASET_DIR", str(tmp_path / "d4rl-cache"))
    monkeypatch.chdir(tmp_path)  # ./data is empty
    (tmp_path / "X").mkdir()
    _write_d4rl_hdf5(tmp_path / "X", "pen-human-v1", obs_dim=45, act_dim=24)
    args = ["train", "--task", "pen-human-v1", "--method", "fql", "--steps", "2"]
    args += ["--set", "batch_size=16", "--out", str(tmp_path / "run")]  # the file has 49 rows
    assert main(args) == 2  # without the variable: not found
    assert "D4RL dataset for pen-human-v1 not found" in capsys.readouterr().err
    monkeypatch.setenv("DROL_DATA_DIR", str(tmp_path / "X"))
    assert main(args) == 2  # found: it gets as far as the (missing) D4RL venv
    err = capsys.readouterr().err
    assert "not found" not in err and "drol d4rl setup" in err


def test_data_commands_default_to_drol_data_dir(tmp_path, monkeypatch, capsys):
    import drol.data.fetch as fetch_mod
    from drol.cli import main

    monkeypatch.setattr(fetch_mod, "can_connect", lambda *a, **k: False)
    monkeypatch.setenv("DROL_DATA_DIR", str(tmp_path / "X"))
    assert main(["data", "fetch", "pen-human-v1"]) == 2
    assert f"place it in {tmp_path / 'X'}" in capsys.readouterr().err


def _write_d4rl_hdf5(out: Path, task: str, obs_dim: int, act_dim: int, n: int = 50) -> Path:
    import h5py

    from drol.data.d4rl import d4rl_url

    path = out / d4rl_url(task).rsplit("/", 1)[-1]
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        f["observations"] = rng.normal(size=(n, obs_dim)).astype(np.float32)
        f["actions"] = rng.uniform(-1, 1, (n, act_dim)).astype(np.float32)
        f["rewards"] = np.zeros(n, np.float32)
        f["terminals"] = np.zeros(n, bool)
        f["timeouts"] = np.zeros(n, bool)
    return path


def _fake_worker(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "fake_worker.py"
    path.write_text(body)
    return path


def test_worker_that_never_answers_times_out_naming_task_and_log(tmp_path):
    worker = _fake_worker(tmp_path, "import time\ntime.sleep(60)\n")
    log = tmp_path / "w.log"
    with pytest.raises(D4RLWorkerError) as err:
        D4RLEnv("pen-human-v1", python=sys.executable, worker=worker, log_path=log,
                start_timeout=1.0)  # fmt: skip
    msg = str(err.value)
    assert "pen-human-v1 hung (no reply to 'start-up' in 1 s)" in msg and str(log) in msg
    assert log.is_file()  # kept: the worker failed
    assert isinstance(err.value, EnvFailedError) and "internal error" not in msg


def test_worker_that_crashes_reports_exit_code_and_last_log_line(tmp_path):
    body = "import sys\nprint('mujoco exploded', file=sys.stderr)\nsys.exit(3)\n"
    worker = _fake_worker(tmp_path, body)
    log = tmp_path / "w.log"
    with pytest.raises(D4RLWorkerError) as err:
        D4RLEnv("door-human-v1", python=sys.executable, worker=worker, log_path=log)
    msg = str(err.value)
    assert "door-human-v1" in msg and "exited with code 3" in msg
    assert "mujoco exploded" in msg and str(log) in msg


def test_worker_error_reply_is_reported_and_worker_stays_usable(tmp_path):
    # the real worker script under our Python: `make` fails (no d4rl here), the reply says why
    with pytest.raises(D4RLWorkerError, match="'make' failed: .*d4rl"):
        D4RLEnv("hammer-human-v1", python=sys.executable, log_path=tmp_path / "w.log")


def test_normalized_score_matches_d4rl_reference_scores():
    assert normalized_score(1.0, 0.0, 1.0) == 100.0
    lo, hi = 96.262799, 3076.8331017826877  # pen (d4rl/infos.py)
    assert normalized_score(lo, lo, hi) == 0.0
    assert normalized_score(hi, lo, hi) == pytest.approx(100.0)


# ---------------------------------------------------------------- the D4RL venv
EQUALITY_TASKS = ["antmaze-umaze-v2", "pen-human-v1", "door-human-v1", "hammer-human-v1",
                  "relocate-human-v1"]  # fmt: skip


# float32 actions, as a policy sends them: d4rl rescales them in their own dtype (antmaze's
# NormalizedBoxEnv, control range ±30), so a float64 cast would step another episode
FLOAT32_TASKS = ["antmaze-umaze-v2", "pen-human-v1", "door-human-v1"]
EQUALITY_CASES = [(t, "float64") for t in EQUALITY_TASKS] + [(t, "float32") for t in FLOAT32_TASKS]


def _direct_episode(task: str, seed: int, actions: np.ndarray, tmp_path: Path):
    """The episode as d4rl 1.1 steps it in the venv's own Python, no project code involved."""
    np.save(tmp_path / "actions.npy", actions)
    subprocess.run(
        [str(D4RL_PY), str(HERE / "d4rl" / "direct.py"), task, str(seed),
         str(tmp_path / "actions.npy"), str(tmp_path / "direct.npz")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return np.load(tmp_path / "direct.npz", allow_pickle=False)


@needs_d4rl
@pytest.mark.parametrize(("task", "dtype"), EQUALITY_CASES)
def test_worker_equals_direct_d4rl_env_for_a_full_episode(task, dtype, tmp_path):
    with D4RLEnv(task) as env:
        rng = np.random.default_rng(7)
        actions = rng.uniform(-1, 1, (env.horizon + 5, env.act_dim)).astype(dtype)
        first, _ = env.reset(seed=123)
        obs, rewards, ends = [], [], []
        for a in actions:
            o, r, term, trunc, info = env.step(a)
            obs.append(o)
            rewards.append(r)
            ends.append(term or trunc)
            if term or trunc:
                break
        # the batched call gives the same episode
        first_b, _ = env.reset(seed=123)
        batch = env.steps(actions)
    direct = _direct_episode(task, 123, actions, tmp_path)
    assert len(direct["obs"]) > 1
    assert np.array_equal(first, direct["first"]) and np.array_equal(first_b, first)
    assert np.array_equal(np.array(obs), direct["obs"])
    assert np.array_equal(np.array(rewards), direct["rewards"])
    assert ends[-1] and bool(direct["dones"][-1]) and len(ends) == len(direct["dones"])
    assert np.array_equal(np.array(ends), direct["dones"])
    assert np.array_equal(batch["obs"], direct["obs"])
    assert np.array_equal(batch["rewards"], direct["rewards"])
    assert np.array_equal(batch["terminated"] | batch["truncated"], direct["dones"])


def test_actions_go_to_the_worker_in_the_policy_dtype():
    from drol.d4rl.client import wire_actions

    a32 = np.array([0.1, -0.7], dtype=np.float32)
    assert wire_actions(a32, (2,)).dtype == np.float32
    assert np.array_equal(wire_actions(a32, (2,)), a32)
    assert wire_actions([0.1, -0.7], (2,)).dtype == np.float64
    assert wire_actions(np.zeros((3, 2), np.float32), (-1, 2)).dtype == np.float32
    assert wire_actions(np.zeros(2, np.int64), (2,)).dtype == np.float64


@needs_d4rl
def test_antmaze_seed_fixes_start_and_goal_in_fresh_workers():
    def start(seed):
        with D4RLEnv("antmaze-medium-play-v2") as env:
            ob, info = env.reset(seed=seed)
            return ob, info["target_goal"]

    (ob0, g0), (ob0b, g0b), (ob1, g1) = start(0), start(0), start(1)
    assert np.array_equal(ob0, ob0b) and g0 == g0b
    assert not np.array_equal(ob0, ob1) and g0 != g1


@needs_d4rl
def test_adroit_info_and_normalised_return():
    with D4RLEnv("door-human-v1") as env:
        env.reset(seed=0)
        ret = 0.0
        for _ in range(3):
            _, r, _, _, info = env.step(np.zeros(env.act_dim))
            ret += r
        assert "goal_achieved" in info
        assert info["normalized_return"] == pytest.approx(
            100 * (ret + 56.512833) / (2880.5693087298737 + 56.512833)
        )


@needs_d4rl
def test_killed_worker_mid_episode_raises_a_clear_error(tmp_path):
    env = D4RLEnv("pen-human-v1", log_path=tmp_path / "w.log")
    env.reset(seed=0)
    env.proc.kill()
    env.proc.wait()
    with pytest.raises(D4RLWorkerError, match=r"pen-human-v1 exited with code -9 during 'step'"):
        env.step(np.zeros(env.act_dim))


@needs_d4rl
def test_hung_worker_mid_episode_times_out(tmp_path):
    env = D4RLEnv("antmaze-umaze-v2", log_path=tmp_path / "w.log", call_timeout=1.0)
    env.reset(seed=0)
    os.kill(env.proc.pid, signal.SIGSTOP)
    with pytest.raises(D4RLWorkerError, match=r"hung \(no reply to 'step' in 1 s\)"):
        env.step(np.zeros(env.act_dim))
    assert env.proc.poll() is not None  # killed, not left behind


@needs_d4rl
def test_worker_log_removed_on_clean_close_kept_on_failure(tmp_path):
    import tempfile

    with D4RLEnv("pen-human-v1") as env:  # outside a run: a temporary log
        env.reset(seed=0)
        env.step(np.zeros(env.act_dim, np.float32))
        default_log = env.log_path
        assert default_log.is_file() and default_log.parent == Path(tempfile.gettempdir())
    assert not default_log.exists()
    log = tmp_path / "d4rl-worker.log"
    env = D4RLEnv("pen-human-v1", log_path=log)
    env.reset(seed=0)
    env.proc.kill()
    with pytest.raises(D4RLWorkerError, match="exited with code -9"):
        env.step(np.zeros(env.act_dim, np.float32))
    env.close()
    assert log.is_file()  # kept for whoever reads the error


@needs_d4rl
def test_worker_reports_the_pinned_versions():
    pins = dict(p.split("==") for p in (*PINS, D4RL_PIN))
    with D4RLEnv("door-human-v1") as env:
        v = env.worker_versions
    assert v["python"].startswith("3.") and v["d4rl"] == pins["d4rl"]
    assert v["gym"] == pins["gym"] and v["numpy"] == pins["numpy"]
    assert v["mujoco_py"] == pins["free-mujoco-py"]


def _tiny_d4rl_run(task: str, data: Path, out: Path) -> list[str]:
    return ["train", "--task", task, "--method", "fql", "--steps", "2", "--eval-every", "2",
            "--eval-episodes", "1", "--data-dir", str(data), "--out", str(out), "--threads", "1",
            "--set", "hidden=16", "--set", "batch_size=16", "--set", "log_every=1"]  # fmt: skip


@needs_d4rl
def test_d4rl_run_records_worker_versions_scores_and_removes_its_log(tmp_path):
    from drol.cli import main

    _write_d4rl_hdf5(tmp_path, "pen-human-v1", obs_dim=45, act_dim=24)
    out = tmp_path / "run"
    assert main(_tiny_d4rl_run("pen-human-v1", tmp_path, out)) == 0
    assert not (out / "d4rl-worker.log").exists()  # the run succeeded
    config = json.loads((out / "config.json").read_text())
    worker = config["versions"]["d4rl_worker"]
    assert worker["d4rl"] == D4RL_PIN.split("==")[1] and worker["python"].startswith("3.")
    ev = pd.read_csv(out / "eval.csv")
    lo, hi = 96.262799, 3076.8331017826877  # pen (d4rl/infos.py)
    expected = [normalized_score(r, lo, hi) for r in ev["return"]]
    assert ev["normalized_score"].tolist() == pytest.approx(expected)
    assert ev["success"].tolist() == pytest.approx([x / 100 for x in expected])


@needs_d4rl
def test_worker_death_fails_the_run_with_its_log_beside_failed(tmp_path, monkeypatch, capsys):
    from drol.cli import main

    real_step = D4RLEnv.step

    def step_after_the_worker_died(self, action):
        self.proc.kill()
        self.proc.wait()
        return real_step(self, action)

    monkeypatch.setattr(D4RLEnv, "step", step_after_the_worker_died)
    _write_d4rl_hdf5(tmp_path, "pen-human-v1", obs_dim=45, act_dim=24)
    out = tmp_path / "run"
    assert main(_tiny_d4rl_run("pen-human-v1", tmp_path, out)) == 1  # an env failure, not a bug
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "pen-human-v1 exited with code -9 during 'step'" in last
    assert "internal error" not in last and str(out / "d4rl-worker.log") in last
    assert (out / "FAILED").is_file() and (out / "d4rl-worker.log").is_file()


@needs_d4rl
def test_close_ends_the_worker():
    env = D4RLEnv("hammer-expert-v1")
    env.close()
    assert env.proc.returncode == 0


@needs_d4rl
def test_rollout_writes_the_d4rl_layout(tmp_path):
    import h5py

    from drol.d4rl.rollout import rollout
    from drol.data.d4rl import load_d4rl_hdf5

    res = rollout("pen-human-v1", episodes=3, seed=0, out=tmp_path)
    with h5py.File(res.path, "r") as f:
        n = len(f["observations"])
        assert f["observations"].shape == (n, 45) and f["actions"].shape == (n, 24)
        ends = np.flatnonzero(f["terminals"][()] | f["timeouts"][()])
        assert len(ends) == 3 and ends[-1] == n - 1  # one end per episode (drop or time limit)
        assert np.all(np.diff(np.r_[-1, ends]) <= 100)
    data = load_d4rl_hdf5(res.path, "pen-human-v1")
    assert len(data["observations"]) == n - int(f_timeouts(res.path).sum()) - (
        0 if f_timeouts(res.path)[-1] else 1
    )


def f_timeouts(path):
    import h5py

    with h5py.File(path, "r") as f:
        return f["timeouts"][()]


@needs_d4rl
@pytest.mark.slow
@pytest.mark.parametrize(("task", "episodes"), [("antmaze-umaze-v2", 2), ("pen-human-v1", 4)])
def test_train_on_rolled_out_data_writes_a_normalised_score(task, episodes, tmp_path, monkeypatch):
    from drol.cli import main

    # as a user would: the data root from $DROL_DATA_DIR, for rollout and train alike
    monkeypatch.setenv("DROL_DATA_DIR", str(tmp_path / "data"))
    assert main(["data", "rollout", task, "--episodes", str(episodes)]) == 0
    out = tmp_path / "run"
    args = ["train", "--task", task, "--method", "drol", "--K", "4", "--seed", "0",
            "--steps", "40", "--eval-every", "20", "--eval-episodes", "2",
            "--out", str(out), "--threads", "1",
            "--set", "hidden=32", "--set", "batch_size=32", "--set", "log_every=20",
            "--set", "checkpoint_every=20", "--set", "num_probe_states=3",
            "--set", "probe_neighbors=8"]  # fmt: skip
    assert main(args) == 0
    for name in ("config.json", "train.csv", "eval.csv", "score.json", "checkpoint.pt"):
        assert (out / name).is_file(), name
    score = json.loads((out / "score.json").read_text())
    ev = pd.read_csv(out / "eval.csv")
    final = ev[ev["step"] == ev["step"].max()]
    lo, hi = {"antmaze-umaze-v2": (0.0, 1.0), "pen-human-v1": (96.262799, 3076.8331017826877)}[task]
    expected = np.mean([normalized_score(r, lo, hi) for r in final["return"]])
    assert score["protocol"] == "final"
    assert score["score"] == pytest.approx(expected)
    assert final["normalized_score"].mean() == pytest.approx(expected)
    assert not (out / "d4rl-worker.log").exists()


def test_minari_adroit_dirs_are_found_antmaze_never(tmp_path, monkeypatch):
    from drol.data.minari import find_minari_d4rl, minari_d4rl_id

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    assert minari_d4rl_id("door-cloned-v1") == "D4RL/door/cloned-v2"
    assert minari_d4rl_id("antmaze-umaze-v2") is None  # re-collected data, another simulator
    assert find_minari_d4rl("door-cloned-v1", tmp_path / "data") is None
    d = tmp_path / "minari" / "D4RL" / "door" / "cloned-v2" / "data"
    d.mkdir(parents=True)
    (d / "main_data.hdf5").write_bytes(b"")
    assert find_minari_d4rl("door-cloned-v1", tmp_path / "data") == d.parent


def test_fetch_d4rl_offline_names_url_and_place(tmp_path, monkeypatch, capsys):
    import drol.data.fetch as fetch_mod
    from drol.cli import main

    monkeypatch.setattr(fetch_mod, "can_connect", lambda *a, **k: False)
    assert main(["data", "fetch", "pen-human-v1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "hand_dapg_v1/pen-human-v1.hdf5" in err and str(tmp_path) in err
    assert not list(tmp_path.iterdir())


@needs_d4rl
def test_d4rl_seeds_run_one_worker_per_seed_each_seed_as_its_single_seed_run(tmp_path):
    """`drol train --seeds` on D4RL: each seed its own worker and run directory, evaluation
    rows equal to its `--seed` run, every worker log removed on success."""
    from drol.cli import main

    _write_d4rl_hdf5(tmp_path, "pen-human-v1", obs_dim=45, act_dim=24)
    batched = _tiny_d4rl_run("pen-human-v1", tmp_path, tmp_path / "b" / "seed{seed}")
    assert main([*batched, "--seeds", "0,1"]) == 0
    for seed in (0, 1):
        single = tmp_path / f"single{seed}"
        assert main([*_tiny_d4rl_run("pen-human-v1", tmp_path, single), "--seed", str(seed)]) == 0
        got = tmp_path / "b" / f"seed{seed}"
        assert not (got / "d4rl-worker.log").exists()
        pd.testing.assert_frame_equal(
            pd.read_csv(got / "eval.csv"), pd.read_csv(single / "eval.csv")
        )
