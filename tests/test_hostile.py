"""Hostile inputs and faults (issue 8): every case exits non-zero with one line naming the bad
thing, no traceback, and nothing partial presented as complete.

Cases run in-process through ``drol.cli.main`` where they can; those that need another process
(the lock, dropped capabilities, SIGKILL, a full disk) run ``python -m drol``. Read-only and
full file systems are small tmpfs mounts (tests run as root, and root ignores ``chmod``);
permission cases drop CAP_DAC_OVERRIDE with ``capsh``. Each skips with a reason where the
machine cannot do that.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from drol.cli import main
from drol.data.npzfile import val_path_for, write_npz
from drol.report.aggregate import collect_runs
from drol.train.rundir import CHECKPOINT, CONFIG, FAILED, SCORE

POINTMAZE = "pointmaze-medium-navigate-singletask-task1-v0"
DATASET = "pointmaze-medium-navigate-v0"
ROOT = Path(__file__).resolve().parents[1]
REPORTED = ROOT / "config" / "table4_reported.csv"
TINY = ["--set", "hidden=16", "--set", "depth=2", "--set", "batch_size=16"]
TINY += ["--set", "num_probe_states=2", "--set", "probe_neighbors=4"]


def train_args(data: Path, out: Path, *extra: str, steps: int = 20, K: int = 4) -> list[str]:
    return [
        "train", "--task", POINTMAZE, "--method", "drol", "--K", str(K), "--seed", "0",
        "--steps", str(steps), "--eval-every", "20", "--eval-episodes", "1",
        "--data-dir", str(data), "--out", str(out), "--threads", "1",
        "--set", "log_every=10", "--set", "checkpoint_every=10", *TINY, *extra,
    ]  # fmt: skip


def replace_opt(args: list[str], opt: str, value: str) -> list[str]:
    args = list(args)
    args[args.index(opt) + 1] = value
    return args


def run_main(args: list[str], capsys) -> tuple[int, str]:
    """Exit code and stderr of ``drol ARGS`` in this process (argparse errors included)."""
    capsys.readouterr()
    try:
        code = main(args)
    except SystemExit as exc:  # argparse: usage line + one error line
        code = exc.code
    return code, capsys.readouterr().err


def run_cli(args: list[str], timeout: float = 120, prefix: list[str] | None = None):
    cmd = [*(prefix or []), sys.executable, "-m", "drol", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def assert_one_line_error(code: int, err: str, expect_code: int, *names: str) -> str:
    """The exit code, no traceback, and a last line ``drol CMD: error: ...`` naming ``names``."""
    assert "Traceback" not in err, err
    assert code == expect_code, err
    line = err.strip().splitlines()[-1]
    assert ": error:" in line, err
    for name in names:
        assert name in line, (name, line)
    return line


def not_complete(out: Path) -> None:
    """Nothing partial is presented as complete."""
    assert not (out / SCORE).exists()
    for p in out.parent.glob("**/*.tmp*") if out.parent.exists() else []:
        raise AssertionError(f"temporary file left: {p}")


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def data(tiny_pointmaze) -> Path:
    return tiny_pointmaze.parent


@pytest.fixture(scope="module")
def finished(data, tmp_path_factory) -> Path:
    """A finished K=4 run (copied before each use)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(train_args(data, out)) == 0
    return out


def copy_run(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(src, dst)
    (dst / ".lock").unlink(missing_ok=True)
    return dst


@contextlib.contextmanager
def tmpfs(path: Path, size: str, readonly: bool = False) -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if readonly else "")
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.decode().strip() or 'not root'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def no_dac_prefix() -> list[str]:
    """Run a command as root without the capabilities that bypass file permissions."""
    if os.geteuid() != 0:
        return []  # an ordinary user is already bound by chmod
    if shutil.which("capsh") is None:
        pytest.skip("needs capsh to drop CAP_DAC_OVERRIDE as root")
    return ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", 'exec "$@"', "--"]


# ---------------------------------------------------------------- bad arguments

BAD_ARGS = [
    (["--task", "nonexistent-task-v0"], "unknown task"),
    (["--method", "dqn"], "--method"),
    (["--K", "0"], "K"),
    (["--K", "-3"], "K"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "abc"], "--seed"),
    (["--threads", "0"], "--threads"),
    (["--threads", "-3"], "--threads"),
    (["--steps", "0"], "--steps"),
    (["--eval-every", "0"], "--eval-every"),
    (["--eval-episodes", "0"], "--eval-episodes"),
    (["--set", "log_every=abc"], "log_every"),
    (["--set", "log_every=0"], "log_every"),
    (["--set", "checkpoint_every=1.5"], "checkpoint_every"),
    (["--set", "hidden=1000000"], "hidden"),
    (["--set", "num_probe_states=-5"], "num_probe_states"),
    (["--set", "probe_neighbors=0"], "probe_neighbors"),
    (["--set", "bc_coef=-1"], "bc_coef"),
    (["--set", "no_such_key=1"], "no_such_key"),
    (["--set", "q_agg=max"], "q_agg"),
    (["--set", "lr=nan"], "lr"),
    (["--set", "lr=inf"], "lr"),
    (["--set", "bc_coef=inf"], "bc_coef"),
    (["--set", "q_coef=inf"], "q_coef"),
    (["--set", "bc_coef=1e999"], "bc_coef"),
    (["--set", "batch_size=1000000000"], "batch_size"),
    (["--set", "batch_size=60000"], "batch_size"),  # within the bound, above the dataset's rows
    (["--set", "batch_size=0"], "batch_size"),
    (["--set", "noequals"], "KEY=VALUE"),
]


@pytest.mark.parametrize(("change", "name"), BAD_ARGS, ids=[" ".join(c) for c, _ in BAD_ARGS])
def test_bad_argument_is_refused_before_anything_is_created(data, tmp_path, capsys, change, name):
    out = tmp_path / "run"
    args = train_args(data, out)
    args = args + change if change[0] == "--set" else replace_opt(args, *change)
    line = assert_one_line_error(*run_main(args, capsys), 2, name)
    if change[0] not in ("--method", "--seed") or change[1] == "-1":
        assert "range" in line or "must" in line or "unknown" in line or "expected" in line, line
    assert not out.exists(), "a refused run must not create its directory"


# ---------------------------------------------------------------- bad datasets


def corrupt_copy(src: Path, dst: Path, edit: Callable[[Path, dict], None]) -> Path:
    dst.mkdir(parents=True)
    for p in src.glob(f"{DATASET}*.npz"):
        shutil.copy(p, dst / p.name)
    train = dst / f"{DATASET}.npz"
    with np.load(train) as npz:
        arrays = {k: npz[k] for k in npz.files}
    edit(train, arrays)
    return dst


def rewrite(**changes):
    def edit(path: Path, arrays: dict) -> None:
        for key, fn in changes.items():
            if fn is None:
                arrays.pop(key)
            else:
                arrays[key] = fn(arrays[key])
        write_npz(path, arrays)

    return edit


def raw(fn):
    return lambda path, arrays: fn(path)


def flip_middle(path: Path) -> None:
    blob = bytearray(path.read_bytes())
    mid = len(blob) // 2
    blob[mid : mid + 64] = bytes(b ^ 0xFF for b in blob[mid : mid + 64])
    path.write_bytes(bytes(blob))


def nan_first(a):
    a = a.copy()
    a[5, 0] = np.nan
    return a


BAD_DATA = {
    "zero-byte": (raw(lambda p: p.write_bytes(b"")), "not a readable"),
    "truncated": (raw(lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])), "npz"),
    "crc-corrupt": (raw(flip_middle), "corrupt"),
    "text-file": (raw(lambda p: p.write_text("observations,actions\n1,2\n")), "not a readable"),
    "missing-actions": (rewrite(actions=None), "actions"),
    "short-actions": (rewrite(actions=lambda a: a[:-1]), "actions"),
    "wrong-action-dim": (rewrite(actions=lambda a: np.zeros((len(a), 3), a.dtype)), "actions"),
    "int-observations": (rewrite(observations=lambda a: a.astype(np.int64)), "observations"),
    "all-zero-terminals": (rewrite(terminals=lambda a: np.zeros_like(a)), "terminals"),
    "nan-observations": (rewrite(observations=nan_first), "observations"),
    "corrupt-val": (raw(lambda p: val_path_for(p).write_bytes(b"PK\x03\x04junk")), "-val.npz"),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_dataset_is_named_before_training(data, tmp_path, capsys, case):
    edit, name = BAD_DATA[case]
    bad = corrupt_copy(data, tmp_path / "data", edit)
    out = tmp_path / "run"
    line = assert_one_line_error(*run_main(train_args(bad, out), capsys), 2, name)
    assert ".npz" in line, line  # names the file
    assert not out.exists()


def test_missing_data_dir_names_file_and_command(tmp_path, capsys):
    line = assert_one_line_error(
        *run_main(train_args(tmp_path / "nowhere", tmp_path / "run"), capsys), 2, f"{DATASET}.npz"
    )
    assert "drol data generate" in line
    assert not (tmp_path / "run").exists()


def test_unreadable_data_dir(data, tmp_path):
    dd = tmp_path / "data"
    shutil.copytree(data, dd)
    dd.chmod(0o000)
    try:
        res = run_cli(train_args(dd, tmp_path / "run"), prefix=no_dac_prefix())
    finally:
        dd.chmod(0o755)
    assert_one_line_error(res.returncode, res.stderr, 2, str(dd), "Permission denied")


# ---------------------------------------------------------------- --out on bad places


def test_out_is_a_file(data, tmp_path, capsys):
    out = tmp_path / "file"
    out.write_text("x")
    assert_one_line_error(*run_main(train_args(data, out), capsys), 2, str(out), "not a directory")
    assert out.read_text() == "x"


def test_out_on_a_read_only_mount(data, tmp_path, capsys):
    with tmpfs(tmp_path / "ro", "1m", readonly=True) as ro:
        line = assert_one_line_error(*run_main(train_args(data, ro / "run"), capsys), 2, "--out")
        assert "Read-only file system" in line


def test_out_in_a_read_only_directory(data, tmp_path):
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        res = run_cli(train_args(data, parent / "run"), prefix=no_dac_prefix())
    finally:
        parent.chmod(0o755)
    assert_one_line_error(res.returncode, res.stderr, 2, str(parent), "Permission denied")
    assert not (parent / "run").exists()


# ---------------------------------------------------------------- identity of a run directory

IDENTITY_CHANGES = [
    (["--K", "8"], "K: 4 in {cfg}, 8 requested"),
    (["--seed", "3"], "seed: 0 in {cfg}, 3 requested"),
    (["--method", "drol_static"], "method: drol in {cfg}, drol_static requested"),
    (["--steps", "40"], "steps: 20 in {cfg}, 40 requested"),
    (["--set", "bc_coef=7"], "agent.bc_coef"),
    (["--task", "pointmaze-medium-navigate-singletask-task2-v0"], "task: "),
]


@pytest.mark.parametrize(
    ("change", "expect"), IDENTITY_CHANGES, ids=[" ".join(c) for c, _ in IDENTITY_CHANGES]
)
def test_finished_run_reinvoked_with_other_settings_is_refused(
    data, finished, tmp_path, capsys, change, expect
):
    run = copy_run(finished, tmp_path)
    score = (run / SCORE).read_text()
    args = train_args(data, run)
    args = args + change if change[0] == "--set" else replace_opt(args, *change)
    assert_one_line_error(*run_main(args, capsys), 2, expect.format(cfg=run / CONFIG))
    assert (run / SCORE).read_text() == score
    assert not (run / FAILED).exists(), "a refused request must not mark the run failed"


def test_unfinished_run_resumed_on_another_dataset_is_refused(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data, out, steps=10) + ["--set", "checkpoint_every=5"]) == 0
    (out / SCORE).unlink()  # as if killed after its last checkpoint
    other = tmp_path / "other"
    from drol.data.generate import generate

    generate(DATASET, other, episodes=2, seed=1, jobs=1, progress=False)
    args = train_args(other, out, steps=10) + ["--set", "checkpoint_every=5"]
    line = assert_one_line_error(*run_main(args, capsys), 2, "dataset.rows", "dataset.digest")
    assert str(out / CONFIG) in line


def test_identical_reinvocation_of_finished_run_exits_at_once(data, finished, tmp_path, capsys):
    run = copy_run(finished, tmp_path)
    t = time.perf_counter()
    code, err = run_main(train_args(data, run), capsys)
    assert code == 0 and "Traceback" not in err
    assert time.perf_counter() - t < 3.0


# ---------------------------------------------------------------- checkpoints


class Evil:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_checkpoint_is_refused_and_never_runs(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data, out, steps=10)) == 0
    (out / SCORE).unlink()
    marker = tmp_path / "pwned"
    torch.save({"format": 2, "agent": Evil(str(marker))}, out / CHECKPOINT)
    line = assert_one_line_error(*run_main(train_args(data, out, steps=10), capsys), 2, CHECKPOINT)
    assert "refused" in line
    assert not marker.exists(), "the checkpoint's code ran"
    assert "refused" in (out / FAILED).read_text()
    assert (out / "error.log").is_file()
    assert not (out / SCORE).exists()


def test_truncated_checkpoint_is_a_one_line_error(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data, out, steps=10)) == 0
    (out / SCORE).unlink()
    ckpt = out / CHECKPOINT
    ckpt.write_bytes(ckpt.read_bytes()[:100])
    line = assert_one_line_error(*run_main(train_args(data, out, steps=10), capsys), 2, str(ckpt))
    assert "cannot read checkpoint" in line
    runs = collect_runs_of(out)
    assert runs["status"].tolist() == ["failed"]


def collect_runs_of(run: Path) -> pd.DataFrame:
    """Aggregate one run directory placed at its grid path."""
    root = run.parent / "runs"
    dst = root / POINTMAZE / "drol" / "K4" / "seed0"
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists():
        shutil.copytree(run, dst)
    return collect_runs(root)


# ---------------------------------------------------------------- FAILED for every fatal error


def test_nonfinite_loss_writes_failed_and_aggregate_says_failed(data, tmp_path, capsys):
    out = tmp_path / "run"
    args = train_args(data, out, steps=200) + ["--set", "lr=1e30", "--set", "bc_coef=1e30"]
    assert_one_line_error(*run_main(args, capsys), 2, "non-finite", FAILED)
    assert "non-finite" in (out / FAILED).read_text()
    runs = collect_runs_of(out)
    assert runs["status"].tolist() == ["failed"]
    assert "non-finite" in runs["reason"].iloc[0]


def test_internal_error_after_start_writes_failed_with_traceback_log(
    data, tmp_path, capsys, monkeypatch
):
    from drol.train import evaluation

    def boom(*a, **k):
        raise KeyError("simulated bug")

    monkeypatch.setattr(evaluation, "evaluate", boom)
    out = tmp_path / "run"
    line = assert_one_line_error(*run_main(train_args(data, out), capsys), 2, "internal error")
    assert "simulated bug" in line
    assert "KeyError" in (out / FAILED).read_text()
    assert "Traceback" in (out / "error.log").read_text()
    assert collect_runs_of(out)["status"].tolist() == ["failed"]


# ---------------------------------------------------------------- the lock


HOLD_LOCK = """
import sys, time
from pathlib import Path
from drol.train.rundir import RunLock
lock = RunLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_second_process_on_a_locked_run_exits_naming_the_pid(data, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = assert_one_line_error(*run_main(train_args(data, out), capsys), 2, str(holder.pid))
        assert "in use" in line
        assert not (out / CONFIG).exists() and not (out / FAILED).exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the lock died with its (SIGKILLed) holder: the run now goes through
    assert run_main(train_args(data, out), capsys)[0] == 0
    assert (out / SCORE).is_file()


# ---------------------------------------------------------------- full disk


@pytest.mark.slow
def test_disk_full_at_a_checkpoint_keeps_the_previous_one(data, tmp_path):
    with tmpfs(tmp_path / "small", "8m") as mnt:
        out = mnt / "run"
        args = train_args(data, out, steps=400)
        proc = subprocess.Popen(
            [sys.executable, "-m", "drol", *args], stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        deadline = time.time() + 120
        while not (out / CHECKPOINT).exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.005)
        proc.send_signal(signal.SIGSTOP)
        filler = mnt / "filler"
        with open(filler, "wb") as fh, contextlib.suppress(OSError):
            while True:
                fh.write(b"\0" * 65536)
        proc.send_signal(signal.SIGCONT)
        err = proc.communicate(timeout=120)[1]
        if proc.returncode == 0:
            pytest.skip("the run finished before the disk could be filled")
        line = assert_one_line_error(proc.returncode, err, 1, "disk full")
        assert str(out) in line
        not_complete(out)
        blob = torch.load(out / CHECKPOINT, weights_only=True)  # the previous one, still valid
        assert 0 < json.loads(blob["progress"])["step"] < 400
        filler.unlink()
        res = run_cli(args, timeout=300)
        assert res.returncode == 0, res.stderr
        assert (out / SCORE).is_file()


def test_data_generate_on_a_full_disk(tmp_path, capsys, monkeypatch):
    from drol.data import generate

    args = ["data", "generate", DATASET, "--episodes", "3", "--jobs", "1", "--no-progress"]
    with tmpfs(tmp_path / "small", "16k") as mnt:
        # refused up front: the estimate does not fit the free space
        line = assert_one_line_error(*run_main([*args, "--out", str(mnt)], capsys), 2, " free;")
        assert str(mnt) in line
        assert "0.0 GB" not in line and "kB free" in line  # units that show the numbers
        # past the estimate (another writer filled the disk meanwhile): no partial file
        monkeypatch.setattr(generate, "check_fits", lambda *a: None)
        code, err = run_main([*args, "--out", str(mnt)], capsys)
        assert_one_line_error(code, err, 1, "disk full", str(mnt))
        assert not list(mnt.iterdir()), "no partial dataset may be left"


def test_data_generate_checks_its_output_before_generating(tmp_path, capsys):
    with tmpfs(tmp_path / "ro", "1m", readonly=True) as ro:
        t = time.perf_counter()
        args = ["data", "generate", DATASET, "--out", str(ro / "d"), "--episodes", "50"]
        assert_one_line_error(*run_main(args, capsys), 2, "--out", "Read-only file system")
        assert time.perf_counter() - t < 2.0, "it generated before checking"


def test_data_generate_out_is_a_file(tmp_path, capsys):
    out = tmp_path / "f"
    out.write_text("x")
    args = ["data", "generate", DATASET, "--out", str(out), "--episodes", "2"]
    assert_one_line_error(*run_main(args, capsys), 2, str(out), "not a directory")


# ---------------------------------------------------------------- aggregate and tables


def fabricate(root: Path, path_K: int, **changes) -> Path:
    from synthetic_runs import make_run

    run = make_run(root, POINTMAZE, "drol", path_K, 0, score=80.0)
    for name in (SCORE, CONFIG):
        obj = json.loads((run / name).read_text())
        obj.update(changes)
        (run / name).write_text(json.dumps(obj))
    return run


@pytest.mark.parametrize(
    ("changes", "reason"),
    [({"K": 4}, "K=4"), ({"method": "fql"}, "method='fql'"), ({"seed": 9}, "seed=9")],
)
def test_aggregate_refuses_a_run_whose_files_disagree_with_its_path(
    tmp_path, capsys, changes, reason
):
    fabricate(tmp_path / "runs", 16, **changes)
    code, err = run_main(
        ["tables", "--runs", str(tmp_path / "runs"), "--reported", str(REPORTED), "--out",
         str(tmp_path / "tables")],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    missing = pd.read_csv(tmp_path / "tables" / "missing_runs.csv")
    row = missing[missing["task"] == POINTMAZE].iloc[0]
    assert row["status"] == "failed" and reason in row["reason"]
    runs = collect_runs(tmp_path / "runs")
    assert runs["status"].tolist() == ["failed"] and runs["score"].isna().all()


def test_aggregate_garbage_score_json_is_failed(tmp_path):
    run = fabricate(tmp_path / "runs", 16)
    (run / SCORE).write_text("{not json")
    runs = collect_runs(tmp_path / "runs")
    assert runs["status"].tolist() == ["failed"] and "unreadable" in runs["reason"].iloc[0]


BAD_REPORTED = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not a readable CSV"),
    "empty": (b"", "not a readable CSV"),
    "no-columns": (b"a,b\n1,2\n", "missing columns"),
    "text-mean": (b"task,method,mean,std\n" + POINTMAZE.encode() + b",DROL,high,1\n", "mean"),
    "unknown-task": (b"task,method,mean,std\nno-such-task-v0,DROL,1,1\n", "task"),
}


@pytest.mark.parametrize("case", list(BAD_REPORTED))
def test_tables_with_garbage_reported_csv(tmp_path, capsys, case):
    content, name = BAD_REPORTED[case]
    rep = tmp_path / "rep.csv"
    rep.write_bytes(content)
    (tmp_path / "runs").mkdir()
    args = ["tables", "--runs", str(tmp_path / "runs"), "--reported", str(rep), "--out",
            str(tmp_path / "t")]  # fmt: skip
    assert_one_line_error(*run_main(args, capsys), 2, str(rep), name)
    assert not (tmp_path / "t").exists()


def test_tables_out_is_a_file(tmp_path, capsys):
    out = tmp_path / "t"
    out.write_text("x")
    (tmp_path / "runs").mkdir()
    args = ["tables", "--runs", str(tmp_path / "runs"), "--reported", str(REPORTED), "--out",
            str(out)]  # fmt: skip
    assert_one_line_error(*run_main(args, capsys), 2, str(out), "not a directory")


def test_stats_out_is_a_file(tmp_path, capsys):
    out = tmp_path / "s"
    out.write_text("x")
    (tmp_path / "runs").mkdir()
    args = ["stats", "--runs", str(tmp_path / "runs"), "--out", str(out), "--reps", "100"]
    assert_one_line_error(*run_main(args, capsys), 2, str(out), "not a directory")


# ---------------------------------------------------------------- round two (issue 20)


def three_seeds(root: Path, K: int = 16) -> list[Path]:
    from synthetic_runs import make_run

    return [make_run(root, POINTMAZE, "drol", K, s, score=80.0 + s) for s in range(3)]


def set_score_text(run: Path, text: str) -> None:
    """Write ``"score": TEXT`` verbatim (``NaN``, ``Infinity`` are what Python's json emits)."""
    obj = json.loads((run / SCORE).read_text())
    obj["score"] = "@@"
    (run / SCORE).write_text(json.dumps(obj).replace('"@@"', text))


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", '"80"', "true", "null"])
def test_nonfinite_or_nonnumeric_score_is_a_failed_run_everywhere(tmp_path, capsys, text):
    runs = tmp_path / "runs"
    bad = three_seeds(runs)[1]
    set_score_text(bad, text)
    base = ["--runs", str(runs)]
    code, err = run_main(
        ["tables", *base, "--reported", str(REPORTED), "--out", str(tmp_path / "t")], capsys
    )
    assert code == 0, err
    missing = pd.read_csv(tmp_path / "t" / "missing_runs.csv")
    assert missing["seed"].tolist() == [1] and missing["status"].tolist() == ["failed"]
    assert "'score'" in missing["reason"].iloc[0] and str(bad / SCORE) in missing["reason"].iloc[0]
    t4 = pd.read_csv(tmp_path / "t" / "table4.csv")
    ours = t4[(t4["task"] == POINTMAZE) & (t4["source"] != "reported")].iloc[0]
    assert ours["n_seeds"] == 2 and ours["mean"] == pytest.approx(81.0)
    assert (tmp_path / "t" / "table1.csv").is_file()
    line = assert_one_line_error(
        *run_main(["aggregate", *base, "--out", str(tmp_path / "r.csv"), "--strict"], capsys), 2
    )
    assert "1 of 3 runs" in line
    assert run_main(["stats", *base, "--out", str(tmp_path / "s"), "--reps", "100"], capsys)[0] == 0
    agg = pd.read_csv(tmp_path / "s" / "aggregate.csv")
    iqm = agg[(agg["statistic"] == "IQM") & (agg["method"] == "DROL(16)")].iloc[0]
    assert iqm["n_runs"] == 2 and np.isfinite(iqm["estimate"])


def test_score_json_of_another_identity_is_not_counted(tmp_path):
    """A stale score.json (another steps/hyperparameters: another digest) is a failed run."""
    run = three_seeds(tmp_path / "runs")[0]
    obj = json.loads((run / SCORE).read_text())
    obj["identity"] = "0123456789abcdef"
    (run / SCORE).write_text(json.dumps(obj))
    runs = collect_runs(tmp_path / "runs")
    row = runs[runs["seed"] == 0].iloc[0]
    assert row["status"] == "failed" and "0123456789abcdef" in row["reason"]
    assert runs["status"].tolist().count("done") == 2
    (run / CONFIG).unlink()  # without config.json its score cannot be confirmed either
    row = collect_runs(tmp_path / "runs").query("seed == 0").iloc[0]
    assert row["status"] == "failed" and "config.json: missing" in row["reason"]


def select_k_args(dirs: list[Path], out: Path) -> list[str]:
    return ["select-k", *map(str, dirs), "--out", str(out)]


def test_select_k_refuses_a_run_whose_files_disagree_with_its_path(tmp_path, capsys):
    """A K=4 run placed under drol/K16/seed0 must not make K* = 4 (a K not in the sweep)."""
    from synthetic_runs import make_run

    root = tmp_path / "runs"
    dirs = [make_run(root, POINTMAZE, "drol", K, 0, score=10.0 * K) for K in (2, 8, 16)]
    for name in (SCORE, CONFIG):  # the K=16 slot holds a K=4 run scoring best
        obj = json.loads((dirs[2] / name).read_text())
        obj.update(K=4, score=99.0)
        (dirs[2] / name).write_text(json.dumps(obj))
    out = tmp_path / "k.json"
    line = assert_one_line_error(*run_main(select_k_args(dirs, out), capsys), 2, "K=4", "path")
    assert "score.json" in line and not out.exists()


def test_select_k_refuses_a_stale_identity_and_mixed_tasks(tmp_path, capsys):
    from synthetic_runs import make_run

    root = tmp_path / "runs"
    dirs = [make_run(root, POINTMAZE, "drol", K, 0, score=10.0 * K) for K in (2, 16)]
    other = make_run(root, POINTMAZE.replace("task1", "task2"), "drol", 4, 0, score=99.0)
    line = assert_one_line_error(
        *run_main(select_k_args([*dirs, other], tmp_path / "k.json"), capsys), 2, "several tasks"
    )
    assert POINTMAZE in line
    obj = json.loads((dirs[0] / SCORE).read_text())
    obj["identity"] = "ffffffffffffffff"
    (dirs[0] / SCORE).write_text(json.dumps(obj))
    assert_one_line_error(
        *run_main(select_k_args(dirs, tmp_path / "k.json"), capsys), 2, "ffffffffffffffff"
    )


@pytest.mark.parametrize("text", ["NaN", "Infinity"])
def test_select_k_nonfinite_score_is_one_line(tmp_path, capsys, text):
    from synthetic_runs import make_run

    dirs = [make_run(tmp_path / "runs", POINTMAZE, "drol", K, 0, score=10.0) for K in (2, 16)]
    set_score_text(dirs[0], text)
    assert_one_line_error(
        *run_main(select_k_args(dirs, tmp_path / "k.json"), capsys), 2, str(dirs[0] / SCORE)
    )


def killed_after_checkpoint(data: Path, out: Path) -> list[str]:
    args = train_args(data, out, steps=10) + ["--set", "checkpoint_every=5"]
    assert main(args) == 0
    (out / SCORE).unlink()  # as if killed after its last checkpoint
    return args


@pytest.mark.parametrize("key", ["qpos", "qvel"])
def test_resume_on_a_dataset_differing_only_in_qpos_is_refused(data, tmp_path, capsys, key):
    """OGBench relabels rewards from qpos: a dataset that differs there is another dataset."""
    out = tmp_path / "run"
    args = killed_after_checkpoint(data, out)
    other = corrupt_copy(data, tmp_path / "other", rewrite(**{key: lambda a: a + 0.25}))
    line = assert_one_line_error(
        *run_main(replace_opt(args, "--data-dir", str(other)), capsys), 2, "dataset.digest"
    )
    assert "dataset.rows" not in line and str(out / CONFIG) in line


def test_run_with_an_old_dataset_fingerprint_is_refused_in_one_line(data, tmp_path, capsys):
    out = tmp_path / "run"
    args = killed_after_checkpoint(data, out)
    cfg = json.loads((out / CONFIG).read_text())
    del cfg["dataset"]["version"]  # as written before the fingerprint covered qpos
    (out / CONFIG).write_text(json.dumps(cfg))
    line = assert_one_line_error(*run_main(args, capsys), 2, str(out / CONFIG), "version 1")
    assert "--out" in line and not (out / FAILED).exists()


def test_finished_run_without_config_json_checks_score_json(data, finished, tmp_path, capsys):
    run = copy_run(finished, tmp_path)
    (run / CONFIG).unlink()
    score = (run / SCORE).read_text()
    args = replace_opt(train_args(data, run), "--K", "8")
    assert_one_line_error(*run_main(args, capsys), 2, f"K: 4 in {run / SCORE}, 8 requested")
    assert (run / SCORE).read_text() == score and not (run / FAILED).exists()
    args = train_args(data, run) + ["--set", "bc_coef=7"]  # not in score.json: the digest
    assert_one_line_error(*run_main(args, capsys), 2, "identity: ")
    assert run_main(train_args(data, run), capsys)[0] == 0  # the same run: finished


@pytest.mark.parametrize(
    ("method", "key"), [("iql", "alpha"), ("fql", "alpha"), ("rebrac", "alpha_actor")]
)
def test_nonfinite_hyperparameter_of_any_method_is_refused_up_front(
    data, tmp_path, capsys, method, key
):
    out = tmp_path / "run"
    args = replace_opt(train_args(data, out), "--method", method) + ["--set", f"{key}=inf"]
    assert_one_line_error(*run_main(args, capsys), 2, f"{key}='inf'", "finite")
    assert not out.exists()


MANIFEST_HEAD = "label,task,method,K,seed\n"
BAD_MANIFEST_ROWS = {
    "K=abc": (f"DROL(16),{POINTMAZE},drol,abc,0\n", "K='abc'"),
    "K=0": (f"DROL(16),{POINTMAZE},drol,0,0\n", "K='0'"),
    "seed=-1": (f"FQL,{POINTMAZE},fql,1,-1\n", "seed='-1'"),
    "unknown method": (f"FQL,{POINTMAZE},dqn,1,0\n", "unknown method 'dqn'"),
    "unknown label": (f"Best,{POINTMAZE},drol,16,0\n", "unknown label 'Best'"),
    "label of another method": (f"FQL,{POINTMAZE},drol,16,0\n", "label 'FQL'"),
}


@pytest.mark.parametrize("case", list(BAD_MANIFEST_ROWS))
def test_tables_bad_manifest_row_is_refused_naming_the_line(tmp_path, capsys, case):
    row, name = BAD_MANIFEST_ROWS[case]
    man = tmp_path / "m.csv"
    man.write_text(MANIFEST_HEAD + f"FQL,{POINTMAZE},fql,1,0\n" + row)
    three_seeds(tmp_path / "runs")
    args = ["tables", "--runs", str(tmp_path / "runs"), "--reported", str(REPORTED), "--out",
            str(tmp_path / "t"), "--manifest", str(man)]  # fmt: skip
    assert_one_line_error(*run_main(args, capsys), 2, str(man), "line 3", name)
    assert not (tmp_path / "t").exists()


def test_tables_with_a_manifest_and_no_runs_directory(tmp_path, capsys):
    man = tmp_path / "m.csv"
    man.write_text(MANIFEST_HEAD + f"FQL,{POINTMAZE},fql,1,0\n")
    for cmd in (["tables", "--reported", str(REPORTED)], ["aggregate"], ["stats"]):
        out = tmp_path / "o" / cmd[0]
        args = [*cmd, "--runs", str(tmp_path / "nonexistent"), "--manifest", str(man)]
        line = assert_one_line_error(*run_main([*args, "--out", str(out)], capsys), 2, "--runs")
        assert "no such directory" in line and not out.exists()


def curves_args(tmp_path: Path) -> list[str]:
    return ["figures", "learning_curves", "--runs", str(tmp_path / "runs"), "--out",
            str(tmp_path / "fig" / "lc")]  # fmt: skip


BAD_EVAL = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00\x81", "not a readable eval.csv"),
    "no success column": (b"step,episode,return\n1,0,0.5\n", "'success'"),
}


@pytest.mark.parametrize("case", list(BAD_EVAL))
def test_learning_curves_on_a_bad_eval_csv_is_one_line(tmp_path, capsys, case):
    content, name = BAD_EVAL[case]
    run = three_seeds(tmp_path / "runs")[0]
    (run / "eval.csv").write_bytes(content)
    assert_one_line_error(*run_main(curves_args(tmp_path), capsys), 2, str(run / "eval.csv"), name)


def test_learning_curves_warn_about_a_truncated_eval_csv(tmp_path, capsys, caplog):
    run = three_seeds(tmp_path / "runs")[0]
    ev = run / "eval.csv"
    full = ev.read_bytes()
    ev.write_bytes(full[: full.rindex(b",", 0, len(full) - 1) + 3])  # cut inside the last row
    assert not ev.read_bytes().endswith(b"\n")
    code, err = run_main(curves_args(tmp_path), capsys)
    assert code == 0, err
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(str(ev) in m and "truncated" in m for m in warned), warned
    from drol.report.aggregate import read_eval

    kept = read_eval(ev)
    assert len(kept) == len(pd.read_csv(io.BytesIO(full))) - 1


def garbage_probes(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04" + os.urandom(200))


def wrong_shape_probes(path: Path) -> None:
    np.savez(path, steps=np.arange(3), candidates=np.zeros((3, 2, 4)), owners=np.zeros((3, 2)),
             data_actions=np.zeros((2, 5, 2)))  # fmt: skip


def object_probes(path: Path) -> None:
    np.savez(path, steps=np.array([object()], dtype=object), candidates=np.zeros((1, 1, 1, 2)),
             owners=np.zeros((1, 1, 1), int), data_actions=np.zeros((1, 1, 2)))  # fmt: skip


@pytest.mark.parametrize("make", [garbage_probes, wrong_shape_probes, object_probes])
def test_fig2_on_a_bad_probes_npz_is_one_line(tmp_path, capsys, make):
    run = three_seeds(tmp_path / "runs")[0]
    make(run / "probes.npz")
    args = ["figures", "fig2_voronoi", "--run", str(run), "--out", str(tmp_path / "f2")]
    line = assert_one_line_error(*run_main(args, capsys), 2, str(run / "probes.npz"))
    assert "allow_pickle" not in line and "drol train" in line


def test_fig2_probe_index_out_of_range(tmp_path, capsys):
    run = three_seeds(tmp_path / "runs")[0]
    args = ["figures", "fig2_voronoi", "--run", str(run), "--out", str(tmp_path / "f2")]
    assert_one_line_error(*run_main([*args, "--probe", "99"], capsys), 2, "--probe 99")


def test_run_linked_from_outside_the_runs_root_is_counted_with_a_warning(tmp_path, caplog):
    """Documented choice (docs/run_format.md): counted, never silently."""
    from synthetic_runs import make_run

    elsewhere = make_run(tmp_path / "scratch", POINTMAZE, "drol", 16, 0, score=70.0)
    root = tmp_path / "runs"
    link = root / POINTMAZE / "drol" / "K16" / "seed0"
    link.parent.mkdir(parents=True)
    link.symlink_to(elsewhere)
    runs = collect_runs(root)
    assert runs["status"].tolist() == ["done"] and runs["score"].tolist() == [70.0]
    assert "links outside" in runs["reason"].iloc[0]
    assert any(str(link) in r.getMessage() for r in caplog.records if r.levelname == "WARNING")


def test_object_arrays_in_a_dataset_say_regenerate_not_allow_pickle(data, tmp_path, capsys):
    def objects(path: Path, arrays: dict) -> None:
        arrays["actions"] = np.array([object()] * len(arrays["actions"]), dtype=object)
        np.savez(path, **arrays)

    bad = corrupt_copy(data, tmp_path / "data", objects)
    for args in (train_args(bad, tmp_path / "run"), ["data", "check", str(bad / f"{DATASET}.npz")]):
        line = assert_one_line_error(*run_main(args, capsys), 2, "actions")
        assert "allow_pickle" not in line and "drol data generate" in line


def test_malicious_checkpoint_message_gives_no_unsafe_advice(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data, out, steps=10)) == 0
    (out / SCORE).unlink()
    torch.save({"format": 2, "agent": Evil(str(tmp_path / "pwned"))}, out / CHECKPOINT)
    line = assert_one_line_error(*run_main(train_args(data, out, steps=10), capsys), 2, CHECKPOINT)
    assert "weights_only" not in line and "delete it" in line


def test_actions_outside_the_unit_box_are_reported_not_ok(data, tmp_path, capsys, caplog):
    bad = corrupt_copy(data, tmp_path / "data", rewrite(actions=lambda a: a * 5))
    train = bad / f"{DATASET}.npz"
    code, err = run_main(["data", "check", str(train), "--no-relabel"], capsys)
    line = assert_one_line_error(code, err, 2, str(train), "outside [-1, 1]")
    assert "regenerate" in line
    capsys.readouterr()
    main(["data", "check", str(train), "--no-relabel"])
    assert "NOT OK" in capsys.readouterr().out
    out = tmp_path / "run"
    assert main(train_args(bad, out, steps=2)) == 0  # trained (clipped), but said so
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(str(train) in m and "clips" in m for m in warned), warned


def test_data_generate_refuses_episodes_that_cannot_fit_the_disk(tmp_path, capsys):
    out = tmp_path / "d"
    t = time.perf_counter()
    args = ["data", "generate", DATASET, "--out", str(out), "--episodes", "1000000000"]
    line = assert_one_line_error(*run_main(args, capsys), 2, "--episodes 1000000000", " free;")
    assert "would need about" in line
    assert time.perf_counter() - t < 30.0, "it started generating"
    assert not list(out.glob("*.npz*"))


def test_data_generate_plan_is_lazy():
    from drol.data.generate import plan

    items = plan(10**12, 10**11)  # a list would need terabytes
    assert next(items) == (0, 0) and next(items) == (0, 1)


def long_path(tmp_path: Path) -> str:
    return str(tmp_path / ("a" * 300) / "x")


@pytest.mark.parametrize(
    ("cmd", "option"),
    [
        (["data", "generate", DATASET, "--episodes", "1", "--out", "{L}"], "--out"),
        (["tables", "--runs", "{R}", "--reported", str(REPORTED), "--out", "{L}"], "--out"),
        (["tables", "--runs", "{L}", "--reported", str(REPORTED), "--out", "{T}"], "--runs"),
        (["aggregate", "--runs", "{R}", "--out={L}"], "--out"),
        (
            ["train", "--task", POINTMAZE, "--method", "drol", "--data-dir", "{L}", "--out", "{T}"],
            "--data-dir",
        ),
    ],  # fmt: skip
    ids=["generate", "tables-out", "tables-runs", "aggregate", "train-data-dir"],
)
def test_path_too_long_exits_2_naming_the_option(tmp_path, capsys, cmd, option):
    (tmp_path / "runs").mkdir()
    fill = {"{L}": long_path(tmp_path), "{R}": str(tmp_path / "runs"), "{T}": str(tmp_path / "t")}
    args = [next((a.replace(k, v) for k, v in fill.items() if k in a), a) for a in cmd]
    line = assert_one_line_error(*run_main(args, capsys), 2, "path too long", f"{option}:")
    assert "shorter path" in line


# ---------------------------------------------------------------- round three (issue 35)


def test_seed_and_seeds_together_are_refused(data, tmp_path, capsys):
    out = tmp_path / "seed{seed}"
    args = replace_opt(train_args(data, out), "--seed", "5") + ["--seeds", "0,1"]
    assert_one_line_error(*run_main(args, capsys), 2, "--seed 5", "--seeds 0,1")
    assert not tmp_path.joinpath("seed0").exists() and not tmp_path.joinpath("seed5").exists()


@pytest.mark.parametrize("seeds", ["0,,1", "0,1,", ",0"])
def test_seeds_with_an_empty_item_are_refused(data, tmp_path, capsys, seeds):
    args = [a for a in train_args(data, tmp_path / "s{seed}") if a not in ("--seed",)]
    args.remove("0")  # the value of --seed
    assert_one_line_error(*run_main([*args, "--seeds", seeds], capsys), 2, "--seeds")
    assert not list(tmp_path.iterdir())


def test_too_many_seeds_are_refused_before_anything_is_created(data, tmp_path, capsys):
    args = [a for a in train_args(data, tmp_path / "s{seed}") if a != "--seed"]
    args.remove("0")
    line = assert_one_line_error(*run_main([*args, "--seeds", "0-999"], capsys), 2, "--seeds")
    assert "1000 seeds" in line and "at most 64" in line
    assert not list(tmp_path.iterdir())  # no run directory, no config.json


@pytest.mark.parametrize(
    ("backend", "needle"),
    [("foo", "not an offscreen backend"), ("glx", "not an offscreen backend")],
)
def test_video_with_an_unusable_mujoco_gl_is_one_line(finished, tmp_path, backend, needle):
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    env = {**os.environ, "MUJOCO_GL": backend}
    res = subprocess.run(
        [sys.executable, "-m", "drol", "video", str(run), "--max-steps", "2"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=env,
    )  # fmt: skip
    line = assert_one_line_error(res.returncode, res.stderr, 2, f"MUJOCO_GL={backend}", needle)
    assert "egl" in line
    assert not list(run.glob("video.*")) and not list(run.glob(".video*"))


def test_video_with_a_backend_that_fails_to_render_is_one_line(finished, tmp_path):
    """osmesa without libOSMesa (or EGL without Mesa's libEGL) fails inside PyOpenGL."""
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    env = {**os.environ, "MUJOCO_GL": "osmesa", "PYOPENGL_PLATFORM": "osmesa"}
    probe = subprocess.run(
        [sys.executable, "-c", "import ctypes.util, sys; sys.exit(bool(ctypes.util.find_library('OSMesa')))"],
        capture_output=True, timeout=60,
    )  # fmt: skip
    if probe.returncode:
        pytest.skip("libOSMesa is installed here: osmesa renders")
    res = subprocess.run(
        [sys.executable, "-m", "drol", "video", str(run), "--max-steps", "2"],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env=env,
    )  # fmt: skip
    assert_one_line_error(res.returncode, res.stderr, 2, "MUJOCO_GL=osmesa", "renderer failed")


def test_video_on_cuda_without_cuda_is_one_line(finished, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    run = tmp_path / "run"
    shutil.copytree(finished, run)
    code, err = run_main(["video", str(run), "--device", "cuda"], capsys)
    assert_one_line_error(code, err, 2, "--device cuda", "no CUDA device")


@pytest.mark.parametrize(
    ("field", "raw", "needle"),
    [
        ("seed_steps_per_s", "Infinity", "finite number > 0"),
        ("seed_steps_per_s", "NaN", "finite number > 0"),
        ("seed_steps_per_s", '"fast"', "must be a number"),
        ("seed_steps_per_s", "true", "must be a number"),
        ("train_steps_per_s", "Infinity", "finite number > 0"),
        ("K", '"16"', "integer >= 1"),
    ],
)
def test_cost_refuses_a_bench_rate_that_is_not_a_finite_number(
    tmp_path, capsys, field, raw, needle
):
    result = {
        "method": "fql", "K": 1, "device": "cpu", "hidden": 512, "batch_size": 256,
        "train_steps_per_s": 10.0, "seeds": 1, "seed_steps_per_s": 10.0,
    }  # fmt: skip
    if field == "train_steps_per_s":
        del result["seed_steps_per_s"]
    text = json.dumps({**result, field: "@"}).replace('"@"', raw)
    (tmp_path / "b.json").write_text(text)
    code, err = run_main(
        ["cost", str(tmp_path / "b.json"), "--configfile", str(ROOT / "config" / "quick.yaml")],
        capsys,
    )
    assert_one_line_error(code, err, 2, "b.json", field, needle)


@pytest.mark.parametrize("rate", ["inf", "nan", "-1"])
def test_cost_refuses_an_eval_rate_that_is_not_finite(tmp_path, capsys, rate):
    bench = {
        "method": "fql", "K": 1, "device": "cpu", "hidden": 512, "batch_size": 256,
        "train_steps_per_s": 10.0,
    }  # fmt: skip
    (tmp_path / "b.json").write_text(json.dumps(bench))
    args = ["cost", str(tmp_path / "b.json"), "--configfile", str(ROOT / "config" / "quick.yaml")]
    code, err = run_main([*args, f"--eval-episodes-per-s={rate}"], capsys)
    assert_one_line_error(code, err, 2, "--eval-episodes-per-s")


def test_an_unreadable_checkpoint_fails_its_seed_alone(data, tmp_path, capsys):
    out = tmp_path / "seed{seed}"
    args = [a for a in train_args(data, out) if a != "--seed"]
    args.remove("0")
    seeds = [*args, "--seeds", "0,1"]
    assert main(seeds) == 0
    for s in (0, 1):
        (tmp_path / f"seed{s}" / SCORE).unlink()  # as Snakemake does after a failed group job
    (tmp_path / "seed1" / CHECKPOINT).write_bytes(b"not a checkpoint")
    code, err = run_main(seeds, capsys)
    assert_one_line_error(code, err, 2, "seed(s) [1] failed", "1 of 2 finished")
    assert (tmp_path / "seed0" / SCORE).is_file()  # the healthy seed keeps its result
    failed = (tmp_path / "seed1" / FAILED).read_text()
    assert "checkpoint" in failed and not (tmp_path / "seed1" / SCORE).exists()


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--pairs", "drol:4,drol:4"], ["drol:4 twice"]),
        (["--pairs", "bc:1,"], ["empty item"]),
        (["--pairs", "bc:1,,fql:1"], ["empty item"]),
        (["--pairs", "bc:1", "--method", "fql"], ["drop --method and --K"]),
        (["--pairs", "bc:1", "--K", "4"], ["drop --method and --K"]),
    ],
)
def test_bench_pairs_refuse_duplicates_empty_items_and_ignored_options(
    tmp_path, capsys, extra, needles
):
    args = ["bench", *extra, "--out-dir", str(tmp_path / "b"), "--steps", "1", "--repeats", "1"]
    assert_one_line_error(*run_main(args, capsys), 2, *needles)
    assert not (tmp_path / "b").exists() or not list((tmp_path / "b").iterdir())


def test_learning_curves_refuse_a_finished_run_without_eval_csv(tmp_path, capsys):
    run = three_seeds(tmp_path / "runs")[1]
    (run / "eval.csv").unlink()  # the tables still count it (score.json is there)
    line = assert_one_line_error(*run_main(curves_args(tmp_path), capsys), 2, str(run / "eval.csv"))
    assert "counted as done" in line
    assert not list((tmp_path / "fig").glob("lc*")) if (tmp_path / "fig").exists() else True


def test_fig3_metrics_on_a_binary_train_csv_is_one_line(tmp_path, capsys):
    from synthetic_runs import make_run

    cube = "cube-single-play-singletask-task2-v0"  # the family's K-sweep task
    run = make_run(tmp_path / "runs", cube, "drol", 4, 0, score=50.0)
    make_run(tmp_path / "runs", cube, "drol", 16, 0, score=60.0)  # a sweep has two K
    (run / "train.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe\x00\x81")
    args = ["figures", "fig3_metrics", "--runs", str(tmp_path / "runs"), "--out",
            str(tmp_path / "fig" / "f3")]  # fmt: skip
    assert_one_line_error(*run_main(args, capsys), 2, str(run / "train.csv"), "train.csv")


def test_read_only_inductor_cache_runs_eager_with_one_warning_and_records_it(data, tmp_path):
    """TORCHINDUCTOR_CACHE_DIR on a read-only mount: torch's compiler cannot even load (every
    optimizer imports it), so the run goes eager with one warning naming the variable, and
    config.json says compile ran 'off' and why (issue 35)."""
    with tmpfs(tmp_path / "ro", "1m", readonly=True) as ro:
        out = tmp_path / "seed{seed}"
        args = train_args(data, out, "--set", "compile=on")
        args = replace_opt(args, "--seed", "0,1")
        args[args.index("--seed")] = "--seeds"
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(ro / "cache")}
        res = subprocess.run(
            [sys.executable, "-m", "drol", *args], capture_output=True, text=True,
            timeout=300, cwd=ROOT, env=env,
        )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    warnings = [line for line in res.stderr.splitlines() if "TORCHINDUCTOR_CACHE_DIR" in line]
    assert len(warnings) == 1 and "eager" in warnings[0], res.stderr[-2000:]
    for seed in (0, 1):
        run = tmp_path / f"seed{seed}"
        assert (run / SCORE).exists() and not (run / FAILED).exists()
        speed = json.loads((run / CONFIG).read_text())["speed"]
        assert speed["compile"] == "off"
        assert "TORCHINDUCTOR_CACHE_DIR" in speed["compile_fallback"]


@pytest.mark.parametrize("seeds", ["0", "0,1"])
def test_a_compile_failure_is_recorded_in_config_json(data, tmp_path, capsys, monkeypatch, seeds):
    """torch.compile failing at the first compiled step: the run goes on eager (one warning) and
    config.json records compile 'off' with the failure, not the 'on' that was asked (issue 35)."""

    def broken(fn, **kwargs):
        def run(*args, **kw):
            raise RuntimeError("inductor exploded\nlong trace")

        return run

    monkeypatch.setattr(torch, "compile", broken)
    args = train_args(data, tmp_path / "seed{seed}", "--set", "compile=on")
    args = replace_opt(args, "--seed", seeds)
    args[args.index("--seed")] = "--seeds"
    code, err = run_main(args, capsys)
    assert code == 0, err
    for seed in seeds.split(","):
        run = tmp_path / f"seed{seed}"
        assert (run / SCORE).exists()
        speed = json.loads((run / CONFIG).read_text())["speed"]
        assert speed["compile"] == "off"
        assert speed["compile_fallback"] == "RuntimeError: inductor exploded"


def test_a_second_snakemake_names_the_running_one_and_no_clashing_fix(tmp_path):
    """While one Snakemake runs in a directory, a second one is told which process runs and
    that --unlock or --rerun-incomplete (Snakemake's own advice) would clash with it; it
    leaves the running workflow's files alone (issue 35)."""
    holder = subprocess.Popen(  # stands in for the first Snakemake: holds the workflow lock
        [sys.executable, "-c", "import sys, time; from drol.workflow_lock import claim; "
         "assert claim(sys.argv[1]) is None; print('held', flush=True); time.sleep(120)",
         str(tmp_path / ".snakemake")],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        shutil.copytree(ROOT / "config", tmp_path / "config")
        runs_csv = tmp_path / "results" / "tables" / "runs.csv"
        runs_csv.parent.mkdir(parents=True)
        runs_csv.write_text("status,run_dir,score\ndone,results/runs/gone/seed0,1.0\n")
        snakemake = str(Path(sys.executable).parent / "snakemake")
        res = subprocess.run(
            [snakemake, "--directory", str(tmp_path), "--cores", "1", "-n"],
            capture_output=True, text=True, timeout=300, cwd=ROOT,
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    line = next(x for x in res.stderr.splitlines() if "another Snakemake" in x)
    assert f"pid {holder.pid}" in line and str(tmp_path) in line
    assert "--rerun-incomplete" in line and "clash" in line
    assert runs_csv.exists()  # the running workflow's runs.csv is not the second one's to remove
