"""drol data check: a sound file passes with a summary; every kind of bad file gets a one-line error."""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pytest

from drol.cli import main
from drol.data.check import DatasetError, check_dataset
from drol.data.npzfile import write_npz

DS = "pointmaze-medium-navigate-v0"


@pytest.fixture
def copy(tmp_path, tiny_pointmaze):
    """A private copy of the tiny pointmaze pair; returns the train path."""
    for name in (f"{DS}.npz", f"{DS}-val.npz"):
        shutil.copy(tiny_pointmaze.parent / name, tmp_path / name)
    return tmp_path / f"{DS}.npz"


def _rewrite(path, **changes):
    arrays = dict(np.load(path))
    for key, value in changes.items():
        if value is None:
            del arrays[key]
        else:
            arrays[key] = value(arrays[key]) if callable(value) else value
    write_npz(path, arrays)


def _check_fails(path, capsys, *needles):
    assert main(["data", "check", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def test_sound_file_passes_with_summary(copy, capsys):
    assert main(["data", "check", str(copy)]) == 0
    out = capsys.readouterr().out
    assert "3,000 transitions, 3 episodes" in out and "1,000 transitions, 1 episodes" in out
    assert out.count("\n       ") >= 5  # five task rows
    summary = check_dataset(copy.with_name(f"{DS}-val.npz"))  # the val file checks the pair too
    assert [t.task for t in summary.tasks] == [1, 2, 3, 4, 5]
    assert all(-1.0 <= t.reward_mean <= 0.0 and 0.0 <= t.success_rate <= 1.0 for t in summary.tasks)


def test_generated_cube_single_passes(tiny_cube_single, capsys):
    assert main(["data", "check", str(tiny_cube_single), "--no-relabel"]) == 0
    assert "2,000 transitions, 2 episodes" in capsys.readouterr().out


def test_not_a_zip(copy, capsys):
    copy.write_bytes(b"this is not an npz file at all")
    _check_fails(copy, capsys, str(copy), "corrupt or truncated")


def test_truncated(copy, capsys):
    data = copy.read_bytes()
    copy.write_bytes(data[: len(data) // 2])
    _check_fails(copy, capsys, str(copy), "corrupt or truncated")


def test_corrupt_member(copy, capsys):
    """Flipped bytes inside a compressed member: caught by the CRC or zlib on a full read."""
    with zipfile.ZipFile(copy) as zf:
        info = zf.getinfo("observations.npy")
    data = bytearray(copy.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + 40
    data[start : start + 64] = bytes(64)
    copy.write_bytes(bytes(data))
    _check_fails(copy, capsys, str(copy), "corrupt or truncated")


@pytest.mark.parametrize(
    "changes, needles",
    [
        (dict(observations=lambda a: np.zeros((len(a), 3), np.float32)), ["observations", "shape"]),
        (dict(actions=lambda a: a[:-1]), ["actions", "shape"]),
        (
            dict(qpos=lambda a: np.where(np.arange(len(a))[:, None] == 7, np.nan, a)),
            ["qpos", "NaN", "row 7"],
        ),
        (dict(qvel=lambda a: a.astype(np.int32)), ["qvel", "float dtype"]),
        (dict(actions=None), ["actions", "missing"]),
        (dict(terminals=lambda a: np.concatenate([a[:-1], [False]])), ["terminals", "last row"]),
        (
            dict(terminals=lambda a: np.where(np.arange(len(a)) == 0, True, a)),
            ["terminals", "episode of 1 row"],
        ),
        (dict(terminals=lambda a: a.astype(np.float32) * 2), ["terminals", "bool"]),
    ],
)
def test_malformed_fields(copy, capsys, changes, needles):
    _rewrite(copy, **changes)
    _check_fails(copy, capsys, str(copy), *needles)


def test_malformed_val_file_is_named(copy, capsys):
    val = copy.with_name(f"{DS}-val.npz")
    _rewrite(val, observations=lambda a: a * np.inf)
    _check_fails(copy, capsys, str(val), "observations", "non-finite")


def test_missing_val_companion(copy, capsys):
    copy.with_name(f"{DS}-val.npz").unlink()
    _check_fails(copy, capsys, f"{DS}-val.npz", "missing -val companion")


def test_unknown_dataset_name(copy, capsys):
    other = copy.with_name("my-data-v0.npz")
    copy.rename(other)
    _check_fails(other, capsys, "unknown dataset 'my-data-v0'")


def test_missing_file_and_directory(tmp_path, capsys):
    _check_fails(tmp_path / f"{DS}.npz", capsys, "no such file")
    _check_fails(tmp_path, capsys, "is a directory")


def test_error_type_carries_field(copy):
    _rewrite(copy, actions=None)
    with pytest.raises(DatasetError) as err:
        check_dataset(copy, relabel=False)
    assert err.value.field == "actions" and err.value.path == copy
