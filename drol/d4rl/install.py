"""Build and locate the D4RL venv (``drol d4rl setup``): Python 3.10, d4rl 1.1, MuJoCo 2.1.

Recipe: ``free-mujoco-py`` bundles MuJoCo 2.1 (apt: libosmesa6-dev
libglfw3 patchelf); d4rl 1.1 is installed without its dependencies; our ``mjrl`` stand-in
(``drol/d4rl/mjrl_stub``) is copied into the venv; the first ``import mujoco_py`` compiles.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from drol.errors import EnvUnavailableError, UserError

# pins, also in envs/d4rl.yaml (a test checks they agree)
PINS: tuple[str, ...] = (
    "numpy==1.26.4",
    "gym==0.23.1",
    "cython==0.29.37",
    "free-mujoco-py==2.1.6",
    "h5py==3.11.0",
    "pillow==10.4.0",
    "termcolor==2.4.0",
    "click==8.1.7",
    "tqdm==4.66.5",
)
D4RL_PIN = "d4rl==1.1"  # installed with --no-deps (its own requirements pull pybullet, dm_control)
APT_PACKAGES = ("libosmesa6-dev", "libglfw3", "patchelf")
MARKER = "drol-d4rl.json"  # written last: its presence means the setup finished
STUB_DIR = Path(__file__).with_name("mjrl_stub")
SETUP_HINT = "run `drol d4rl setup` (see README, 'D4RL')"


def default_venv() -> Path:
    """``$DROL_D4RL_VENV``, else ``~/.cache/drol/d4rl-venv``."""
    return Path(os.environ.get("DROL_D4RL_VENV", "~/.cache/drol/d4rl-venv")).expanduser()


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
        return int(out[0]), int(out[1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def find_base_python(explicit: str | None = None) -> str:
    """A Python < 3.11 (3.8-3.10) to build the venv from.

    Order: ``explicit`` (``--python``), ``$DROL_D4RL_PYTHON``, pyenv's newest 3.10/3.9,
    then ``python3.10``/``python3.9`` on the PATH.
    """
    if explicit or os.environ.get("DROL_D4RL_PYTHON"):
        python = explicit or os.environ["DROL_D4RL_PYTHON"]
        where = "--python" if explicit else "$DROL_D4RL_PYTHON"
        v = _version(python)
        if v is None:
            raise UserError(f"{where}: {python} is not a runnable Python interpreter")
        if not (3, 8) <= v < (3, 11):
            raise UserError(
                f"{where}: {python} is Python {v[0]}.{v[1]}; d4rl 1.1 and free-mujoco-py need 3.8-3.10"
            )
        return python
    candidates: list[str] = []
    pyenv_root = os.environ.get("PYENV_ROOT", str(Path("~/.pyenv").expanduser()))
    versions = Path(pyenv_root) / "versions"
    if versions.is_dir():
        for minor in ("3.10", "3.9"):
            found = sorted(
                versions.glob(f"{minor}.*"),
                key=lambda p: [int(x) for x in p.name.split(".") if x.isdigit()],
            )
            candidates += [str(p / "bin" / "python") for p in reversed(found)]
    for name in ("python3.10", "python3.9"):
        path = shutil.which(name)
        if path:
            candidates.append(path)
    for python in candidates:
        v = _version(python)
        if v is not None and (3, 8) <= v < (3, 11):
            return python
    raise UserError(
        "no Python 3.8-3.10 found for the D4RL venv (looked at $DROL_D4RL_PYTHON, pyenv, "
        "python3.10/python3.9 on the PATH); pass one with `drol d4rl setup --python PATH`"
    )


def find_python(configured: str | os.PathLike | None = None, where: str = "--python") -> Path:
    """The D4RL venv's interpreter: ``configured`` (``where`` names where it came from:
    ``--python`` or ``$DROL_D4RL_VENV_PYTHON``), else the default venv's (:func:`default_venv`).

    Raises :class:`EnvUnavailableError` naming the setup command when it is missing.
    """
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise EnvUnavailableError(f"{where}: {path} does not exist; {SETUP_HINT}")
        return path
    venv = default_venv()
    python = venv_python(venv)
    if not (venv / MARKER).is_file() or not python.is_file():
        raise EnvUnavailableError(
            f"the D4RL environments are not set up (no finished venv at {venv}); {SETUP_HINT}"
        )
    return python


def d4rl_python(explicit: str | os.PathLike | None = None) -> Path:
    """The interpreter the worker runs on: ``explicit`` (``--python``), else
    ``$DROL_D4RL_VENV_PYTHON`` (a venv built elsewhere), else the venv at
    ``$DROL_D4RL_VENV`` or ``~/.cache/drol/d4rl-venv`` (:func:`find_python`)."""
    if explicit:
        return find_python(explicit, where="--python")
    return find_python(os.environ.get("DROL_D4RL_VENV_PYTHON"), where="$DROL_D4RL_VENV_PYTHON")


@dataclass
class SetupResult:
    venv: Path
    python: Path
    seconds: dict[str, float]


def _run(cmd: list[str], log_file: Path, what: str, env: dict[str, str] | None = None) -> None:
    with open(log_file, "a") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log_file.read_text().splitlines()[-15:]
        raise UserError(
            f"D4RL setup: {what} failed (exit {proc.returncode}); log {log_file}:\n"
            + "\n".join(tail)
        )


def missing_apt_packages() -> list[str]:
    """The apt packages of :data:`APT_PACKAGES` that dpkg does not list as installed."""
    if shutil.which("dpkg-query") is None:
        return []
    missing = []
    for pkg in APT_PACKAGES:
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True
        )
        if "install ok installed" not in proc.stdout:
            missing.append(pkg)
    return missing


def install_stub(python: Path) -> Path:
    """Copy the ``mjrl`` stand-in into the venv's site-packages; return its directory."""
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dest = Path(site) / "mjrl"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(STUB_DIR / "mjrl", dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def setup(python: str | None = None, venv: Path | None = None, out=sys.stdout) -> SetupResult:
    """Build the venv at ``venv`` (default :func:`default_venv`) from ``python``."""
    venv = Path(venv or default_venv()).expanduser().resolve()
    missing = missing_apt_packages()
    if missing:
        raise UserError(
            f"D4RL setup needs the apt packages {' '.join(missing)}: "
            f"run `apt-get install -y {' '.join(APT_PACKAGES)}` (as root) first"
        )
    base = find_base_python(python)
    seconds: dict[str, float] = {}
    (venv / MARKER).unlink(missing_ok=True)
    venv.mkdir(parents=True, exist_ok=True)
    log_file = venv / "setup.log"
    log_file.write_text("")
    print(f"building the D4RL venv at {venv} from {base} (log {log_file})", file=out, flush=True)
    t = time.perf_counter()
    _run([base, "-m", "venv", "--clear", str(venv)], log_file, "creating the venv")
    log_file.touch()
    py = venv_python(venv)
    pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    _run([*pip, *PINS], log_file, "pip install of the pins")
    _run([*pip, "--no-deps", D4RL_PIN], log_file, f"pip install --no-deps {D4RL_PIN}")
    install_stub(py)
    seconds["venv_pip"] = time.perf_counter() - t
    print(f"  venv and packages: {seconds['venv_pip']:.0f} s", file=out, flush=True)
    t = time.perf_counter()
    env = {**os.environ, "D4RL_SUPPRESS_IMPORT_ERROR": "1"}
    code = (
        "import mujoco_py, gym, d4rl, mjrl.envs.mujoco_env; "
        "import d4rl.locomotion, d4rl.hand_manipulation_suite; print(mujoco_py.__version__)"
    )
    _run([str(py), "-c", code], log_file, "the first `import mujoco_py` (compile)", env=env)
    seconds["compile"] = time.perf_counter() - t
    print(f"  mujoco-py compile and d4rl import: {seconds['compile']:.0f} s", file=out, flush=True)
    info = {"python": str(py), "base_python": base, "pins": [*PINS, D4RL_PIN], "seconds": seconds}
    (venv / MARKER).write_text(json.dumps(info, indent=1) + "\n")
    print(f"D4RL venv ready: {venv} (python {py})", file=out, flush=True)
    return SetupResult(venv, py, seconds)
