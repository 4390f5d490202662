"""The pieces of a training run, each on its own: the step loop's schedule, validation,
checkpoint round trip and the score protocol (``drol/train/``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from drol.agents import make_agent, make_config
from drol.errors import UserError
from drol.tasks import parse_task
from drol.train.batches import IndexSampler
from drol.train.checkpoint import load_checkpoint, save_checkpoint
from drol.train.heldout import Validation
from drol.train.loop import train_loop
from drol.train.rundir import FAILED, RunIdentity, TrainingError
from drol.train.score import write_score
from drol.train.settings import RunSettings
from drol.train.state import Progress, RunState

TASK = "pointmaze-medium-navigate-singletask-task1-v0"
KEYS = ["observations", "actions", "next_observations", "rewards", "masks"]


def arrays(n: int = 64, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "observations": rng.normal(size=(n, 4)).astype(np.float32),
        "actions": rng.uniform(-1, 1, size=(n, 2)).astype(np.float32),
        "next_observations": rng.normal(size=(n, 4)).astype(np.float32),
        "rewards": rng.normal(size=n).astype(np.float32),
        "masks": np.ones(n, np.float32),
    }


def settings(**kw) -> RunSettings:
    base = dict(
        task=TASK, method="fql", K=1, seed=0, steps=10, eval_every=4, eval_episodes=1,
        log_every=5, checkpoint_every=3, compile="off",
    )  # fmt: skip
    return RunSettings(**{**base, **kw})


def run_state(s: RunSettings, seed: int = 0) -> RunState:
    data = arrays()
    cfg = make_config(s.method, {"hidden": 16, "depth": 2, "batch_size": 8}, task=parse_task(TASK))
    agent = make_agent(s.method, 4, 2, cfg, seed=seed, num_data=len(data["observations"]))
    return RunState(
        agent=agent,
        data=None,  # the loop never touches the env: evaluation is its callback
        tensors={k: torch.as_tensor(v) for k, v in data.items()},
        sampler=IndexSampler(len(data["observations"]), cfg.batch_size, seed, torch.device("cpu")),
        probes=None,
    )


def identity(s: RunSettings) -> RunIdentity:
    return RunIdentity(**{k: getattr(s, k) for k in RunIdentity.spec_keys()})


def test_loop_evaluates_logs_and_checkpoints_on_schedule(tmp_path: Path) -> None:
    s = settings()
    run = run_state(s)
    evals, checkpoints = [], []
    train_loop(
        run, s, tmp_path, validation=None,
        evaluate=lambda r, step: evals.append(step),
        checkpoint=lambda r: checkpoints.append(r.progress.step),
    )  # fmt: skip
    assert evals == [1, 4, 8, 10]
    assert checkpoints == [3, 6, 9, 10]
    logged = pd.read_csv(tmp_path / "train.csv")
    assert logged["step"].tolist() == [5, 10]
    assert run.progress.step == 10 and np.isfinite(logged["loss"]).all()


def test_loop_resumes_from_progress_step(tmp_path: Path) -> None:
    s = settings()
    run = run_state(s)
    run.progress = Progress(step=8)
    evals: list[int] = []
    train_loop(
        run, s, tmp_path, validation=None,
        evaluate=lambda r, step: evals.append(step), checkpoint=lambda r: None,
    )  # fmt: skip
    assert evals == [10]


def test_resumed_loop_reports_this_sessions_steps_and_time(tmp_path: Path, caplog) -> None:
    s = settings()
    run = run_state(s)
    run.progress = Progress(step=8, elapsed=5000.0)  # earlier sessions' training time
    with caplog.at_level("INFO", logger="drol.train.loop"):
        train_loop(
            run, s, tmp_path, validation=None,
            evaluate=lambda r, step: None, checkpoint=lambda r: None,
        )  # fmt: skip
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("trained"))
    session = float(line.split(" in ")[1].split(" s")[0])
    assert line.startswith("trained 2 steps in ") and session < 60.0  # not 5000 s + this one
    assert "this session (resumed at step 8;" in line and run.progress.elapsed > 5000.0
    assert f"{run.progress.elapsed:.1f} s in all" in line


def test_loop_stops_a_diverged_run_before_evaluating_it(tmp_path: Path) -> None:
    s = settings(log_every=100)
    run = run_state(s)
    run.tensors["rewards"][:] = float("nan")
    evals: list[int] = []
    with pytest.raises(TrainingError, match="non-finite loss at step 1"):
        train_loop(
            run, s, tmp_path, validation=None,
            evaluate=lambda r, step: evals.append(step), checkpoint=lambda r: None,
        )  # fmt: skip
    assert evals == []
    assert "non-finite loss" in (tmp_path / FAILED).read_text()


def test_validation_is_absent_without_a_split_and_repeatable_with_one() -> None:
    assert Validation.of(None, KEYS, 0, 8, torch.device("cpu")) is None
    run = run_state(settings())
    val = Validation.of(arrays(seed=1), KEYS, 0, 8, torch.device("cpu"))
    first, again = val(run.agent, 5), val(run.agent, 5)
    assert first == again and "val_critic_loss" in first
    assert val(run.agent, 10) != first  # another step draws another batch


def test_checkpoint_round_trip_restores_the_run(tmp_path: Path) -> None:
    s = settings()
    run = run_state(s)
    train_loop(
        run, s, tmp_path, validation=None, evaluate=lambda r, t: None, checkpoint=lambda r: None
    )
    save_checkpoint(tmp_path / "ckpt.pt", run, identity(s))
    fresh = run_state(s, seed=1)
    load_checkpoint(tmp_path / "ckpt.pt", fresh, identity(s), torch.device("cpu"))
    for a, b in zip(run.agent.parameters(), fresh.agent.parameters(), strict=True):
        assert torch.equal(a, b)
    assert fresh.progress == run.progress
    assert torch.equal(run.sampler(), fresh.sampler())  # the index stream continues alike
    with pytest.raises(UserError, match="belongs to another run"):
        load_checkpoint(
            tmp_path / "ckpt.pt", fresh, identity(settings(seed=3)), torch.device("cpu")
        )


@pytest.mark.parametrize(
    ("task", "expected"),
    [(TASK, 100 * (0.2 + 0.4 + 0.6) / 3), ("antmaze-large-play-v2", 60.0)],
)
def test_score_follows_the_task_protocol(tmp_path: Path, task: str, expected: float) -> None:
    rates = {100: 0.0, 200: 0.2, 300: 0.4, 400: 0.6}
    progress = Progress(
        step=400,
        eval_rows=[{"step": t, "episode": 0, "success_rate": r} for t, r in rates.items()],
        train_rows=[{"steps_per_s": 3.0}, {"steps_per_s": 5.0}],
    )
    s = settings(task=task, steps=400)
    score = write_score(tmp_path, progress, identity(s), parse_task(task))
    assert score["score"] == pytest.approx(expected)
    assert score["train_steps_per_s"] == 4.0 and (tmp_path / "score.json").exists()
