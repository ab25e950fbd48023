"""The two implementations under comparison and their virtual environments.

"ours" is the project's own virtual environment (``make setup`` creates it).
"ref" is the released insitro/redun, installed by this module into
``bench/.venv-ref`` on first use.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = BENCH_DIR.parent
OURS_VENV = REPO_DIR / ".venv"
REF_VENV = BENCH_DIR / ".venv-ref"
REF_VERSION = "0.44.1"
MARKER = ".bench-installed"  # written into the ref venv once pip succeeded


class VenvError(Exception):
    """The implementation's environment is missing or could not be built."""


@dataclass(frozen=True)
class Impl:
    name: str  # "ours" or "ref"
    venv: Path

    @property
    def redun(self) -> Path:
        return self.venv / "bin" / "redun"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ours(venv: Path = OURS_VENV) -> Impl:
    impl = Impl("ours", venv)
    if not impl.python.exists():
        raise VenvError(f"no virtual environment at {venv}: run `make setup` first")
    if not impl.redun.exists():
        raise VenvError(f"{impl.redun} is missing: is the project installed in {venv}?")
    return impl


def reference(venv: Path = REF_VENV, version: str = REF_VERSION, python: str = "python3") -> Impl:
    """Return the reference implementation, creating its venv if needed."""
    impl = Impl("ref", venv)
    marker = venv / MARKER
    if marker.exists() and marker.read_text().strip() == version and impl.redun.exists():
        return impl
    if venv.exists() and not impl.python.exists():
        shutil.rmtree(venv)  # a half-made venv from an interrupted attempt
    if not venv.exists():
        log(f"creating the reference venv {venv} with {python}")
        _check([python, "-m", "venv", str(venv)], None)
    pip_log = venv / "pip-install.log"
    log(f"installing redun=={version} into {venv} (log: {pip_log})")
    _check([str(impl.python), "-m", "pip", "install", f"redun=={version}"], pip_log)
    if not impl.redun.exists():
        raise VenvError(f"pip finished but {impl.redun} does not exist (see {pip_log})")
    marker.write_text(version + "\n")
    log(f"reference redun {version} ready")
    return impl


def _check(cmd: list[str], log_path: Path | None) -> None:
    try:
        if log_path is None:
            proc = subprocess.run(cmd, capture_output=True, text=True)
            output = proc.stdout + proc.stderr
        else:
            with open(log_path, "w") as out:
                proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
            output = log_path.read_text()
    except OSError as error:
        raise VenvError(f"cannot run {cmd[0]}: {error}") from error
    if proc.returncode != 0:
        tail = "\n".join(output.splitlines()[-10:])
        raise VenvError(f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{tail}")
