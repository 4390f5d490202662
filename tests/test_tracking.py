"""Live curves (``drol.train.tracking``): the TensorBoard events and the offline W&B run of a
training run hold exactly what its ``train.csv`` and ``eval.csv`` hold, each step once."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_train import train_args

from drol.cli import main


def event_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag of the run's event files as TensorBoard reads it (purges applied)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def expected_from_csvs(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """The curves the CSVs hold: every train.csv column, each evaluation's mean success/return."""
    train = pd.read_csv(run_dir / "train.csv")
    out = {}
    for col in train.columns.drop("step"):
        rows = train[["step", col]].dropna()
        out[f"train/{col}"] = list(zip(rows["step"], rows[col], strict=True))
    ev = pd.read_csv(run_dir / "eval.csv").groupby("step")
    out["eval/success_rate"] = list(ev["success_rate"].first().items())
    out["eval/return"] = list(ev["return"].mean().items())
    out["eval/length"] = list(ev["length"].mean().items())
    return out


def assert_same_curves(got: dict, expected: dict) -> None:
    assert sorted(got) == sorted(expected)
    for tag, points in expected.items():
        steps = [s for s, _ in points]
        assert [s for s, _ in got[tag]] == steps, tag
        np.testing.assert_allclose(
            [v for _, v in got[tag]], [v for _, v in points], rtol=1e-6, atol=1e-7, err_msg=tag
        )


def test_event_files_hold_every_csv_value(tiny_pointmaze, tmp_path):
    out = tmp_path / "run"
    assert main(train_args(tiny_pointmaze.parent, out, steps=60)) == 0
    assert list(out.glob("events.out.tfevents.*"))
    assert json.loads((out / "config.json").read_text())["logger"] == "tensorboard"
    expected = expected_from_csvs(out)
    assert {"train/loss", "train/steps_per_s", "train/wall_time"} <= set(expected)
    assert_same_curves(event_scalars(out), expected)


def test_resumed_run_logs_each_step_once(tiny_pointmaze, tmp_path, monkeypatch):
    """A crash after step 30's train row (checkpoint at 20) and a resume: the events of step
    30 the crashed process wrote are purged, so each curve matches the CSV again."""
    import drol.train.trainer as trainer

    real = trainer.evaluate_run

    def crash_at_30(run, step, **kw):
        real(run, step, **kw)
        if step == 30:
            raise RuntimeError("simulated crash")

    out = tmp_path / "run"
    args = train_args(tiny_pointmaze.parent, out, steps=60, extra=["--set", "log_every=10"])
    monkeypatch.setattr(trainer, "evaluate_run", crash_at_30)
    assert main(args) == 2
    assert 30 in [s for s, _ in event_scalars(out)["train/loss"]]
    monkeypatch.setattr(trainer, "evaluate_run", real)
    assert main(args) == 0
    assert len(list(out.glob("events.out.tfevents.*"))) == 2
    assert_same_curves(event_scalars(out), expected_from_csvs(out))


def test_logger_none_writes_no_events(tiny_pointmaze, tmp_path):
    out = tmp_path / "run"
    args = train_args(tiny_pointmaze.parent, out, steps=20, extra=["--set", "logger=none"])
    assert main(args) == 0
    assert (out / "score.json").exists()
    assert not list(out.glob("events.out.tfevents.*"))
    assert json.loads((out / "config.json").read_text())["logger"] == "none"


def test_bad_logger_is_a_one_line_error(tiny_pointmaze, tmp_path, capsys):
    out = tmp_path / "run"
    args = train_args(tiny_pointmaze.parent, out, extra=["--set", "logger=mlflow"])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "logger" in err and "tensorboard, wandb, none" in err and "\n" not in err
    assert not out.exists() or not any(out.iterdir())


def wandb_records(path: Path):
    """The protobuf records of an offline W&B run file (a LevelDB-style log: a 7-byte file
    header, then 32 KiB blocks of records, each with a 7-byte header: CRC, length, type)."""
    from wandb.proto import wandb_internal_pb2

    data, block, pos, parts = path.read_bytes(), 32768, 7, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        length, kind = struct.unpack("<HB", data[pos + 4 : pos + 7])
        parts += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # a full record, or the last piece of one
            record = wandb_internal_pb2.Record()
            record.ParseFromString(parts)
            parts = b""
            yield record


@pytest.mark.slow
def test_wandb_offline_run_holds_every_csv_value(tiny_pointmaze, tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_MODE", raising=False)  # offline is the default
    out = tmp_path / "run"
    args = train_args(tiny_pointmaze.parent, out, steps=60, extra=["--set", "logger=wandb"])
    assert main(args) == 0
    config = json.loads((out / "config.json").read_text())
    files = list((out / "wandb").glob(f"offline-run-*-{config['identity']}/*.wandb"))
    assert len(files) == 1
    got: dict[str, list[tuple[int, float]]] = {}
    group = None
    for record in wandb_records(files[0]):
        if record.HasField("run"):
            group = record.run.run_group
        if record.HasField("history"):
            step = record.history.step.num
            for item in record.history.item:
                key = item.key or "/".join(item.nested_key)
                if not key.startswith("_"):
                    got.setdefault(key, []).append((step, json.loads(item.value_json)))
    assert group == "pointmaze-medium-navigate-singletask-task1-v0/drol/K4"
    expected = expected_from_csvs(out)
    assert_same_curves(got, expected)
    assert_same_curves(event_scalars(out), expected)  # the event files are written too


def test_wandb_without_the_package_is_a_one_line_error(
    tiny_pointmaze, tmp_path, capsys, monkeypatch
):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb fails
    out = tmp_path / "run"
    args = train_args(tiny_pointmaze.parent, out, steps=20, extra=["--set", "logger=wandb"])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install 'drol[wandb]'" in err and "\n" not in err
    assert not (out / "score.json").exists()


def test_wandb_online_without_an_api_key_is_a_one_line_config_error(
    tiny_pointmaze, tmp_path, capsys, monkeypatch
):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.netrc with a key
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "wandb-config"))
    out = tmp_path / "run"
    args = train_args(tiny_pointmaze.parent, out, steps=20, extra=["--set", "logger=wandb"])
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "internal error" not in err
    assert "WANDB_MODE=online" in err and "WANDB_API_KEY" in err and "WANDB_MODE=offline" in err
    assert not (out / "score.json").exists()
