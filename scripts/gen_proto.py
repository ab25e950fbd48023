"""Regenerate the Python code of the ``redun.v1`` gRPC API from ``proto/``.

Usage (from anywhere; paths are taken relative to the repository root)::

    .venv/bin/python scripts/gen_proto.py           # rewrite sdk/redun/v1/*_pb2*.py[i]
    .venv/bin/python scripts/gen_proto.py --check   # exit 1 if they are stale

Both run::

    python -m grpc_tools.protoc -I proto --python_out=sdk --pyi_out=sdk \\
        --grpc_python_out=sdk proto/redun/v1/*.proto

into a temporary directory first, so a failed generation leaves the committed
files alone, and generated files whose ``.proto`` is gone are removed.

The committed code was generated with ``grpcio-tools==1.85.1`` (libprotoc
35.1). It needs ``protobuf>=7.35.1`` (the generated ``_pb2`` modules refuse an
older runtime) and ``grpcio>=1.85.1`` (the ``_pb2_grpc`` modules refuse an
older grpcio). Another grpcio-tools version may produce different output, so
``--check`` reports the version in use when it differs.
"""

from __future__ import annotations

import argparse
import difflib
import filecmp
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

#: The grpcio-tools version that generated the committed files.
GENERATED_WITH = "1.85.1"

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE = Path("redun") / "v1"
SDK_ROOT = ROOT / "sdk"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def proto_files() -> list[Path]:
    """The ``.proto`` files of the package, relative to ``proto/``."""
    return sorted(p.relative_to(PROTO_ROOT) for p in (PROTO_ROOT / PACKAGE).glob("*.proto"))


def is_generated(path: Path) -> bool:
    """Whether ``path`` names a file protoc generates."""
    return path.name.endswith(GENERATED_SUFFIXES)


def generate(out_root: Path) -> None:
    """Run protoc, writing ``out_root/redun/v1/*``.

    Raises:
        SystemExit: when grpc_tools is missing or protoc fails.
    """
    if importlib.util.find_spec("grpc_tools") is None:
        raise SystemExit(
            f"grpc_tools is not importable by {sys.executable}: install the dev extra "
            f"(pip install -e '.[dev]', which pins grpcio-tools=={GENERATED_WITH})"
        )
    protos = proto_files()
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_ROOT / PACKAGE}")
    command = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        "-I",
        "proto",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *(str(Path("proto") / p) for p in protos),
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(
            f"protoc failed (exit {result.returncode}):\n{result.stderr}{result.stdout}"
        )


def generated_files(directory: Path) -> dict[str, Path]:
    """Generated files in ``directory``, by name."""
    if not directory.is_dir():
        return {}
    return {p.name: p for p in sorted(directory.iterdir()) if is_generated(p)}


def installed_tools_version() -> str | None:
    """The installed grpcio-tools version, or None when it is not installed."""
    from importlib import metadata

    try:
        return metadata.version("grpcio-tools")
    except metadata.PackageNotFoundError:
        return None


def shorten(line: str, width: int = 120) -> str:
    """Cut a diff line (serialized descriptors are one very long line)."""
    return line if len(line) <= width else line[: width - 3] + "..."


def compare(fresh: dict[str, Path], committed: dict[str, Path]) -> list[str]:
    """Describe every difference between fresh and committed files."""
    problems: list[str] = []
    for name in sorted(fresh.keys() - committed.keys()):
        problems.append(f"missing: {PACKAGE / name} (not generated yet)")
    for name in sorted(committed.keys() - fresh.keys()):
        problems.append(f"stale: {PACKAGE / name} (its .proto is gone)")
    for name in sorted(fresh.keys() & committed.keys()):
        if filecmp.cmp(fresh[name], committed[name], shallow=False):
            continue
        old = committed[name].read_text().splitlines()
        new = fresh[name].read_text().splitlines()
        diff = list(difflib.unified_diff(old, new, "committed", "fresh", n=0, lineterm=""))
        changed = sum(1 for line in diff[2:] if line[:1] in "+-")
        problems.append(f"differs: {PACKAGE / name} ({changed} lines)")
        problems.extend(f"    {shorten(line)}" for line in diff[2:12])
        if len(diff) > 12:
            problems.append("    ...")
    return problems


def main(argv: list[str] | None = None) -> int:
    """Regenerate, or with ``--check`` compare; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the committed files differ from a fresh generation",
    )
    args = parser.parse_args(argv)

    target = SDK_ROOT / PACKAGE
    with tempfile.TemporaryDirectory(prefix="redun-gen-proto-") as tmp:
        generate(Path(tmp))
        fresh = generated_files(Path(tmp) / PACKAGE)
        committed = generated_files(target)
        problems = compare(fresh, committed)

        if args.check:
            if not problems:
                print(f"{len(fresh)} generated files are up to date")
                return 0
            print("generated code is out of date with proto/:", file=sys.stderr)
            for line in problems:
                print(f"  {line}", file=sys.stderr)
            version = installed_tools_version()
            if version != GENERATED_WITH:
                print(
                    f"note: grpcio-tools {version} is installed; the committed files were "
                    f"generated with {GENERATED_WITH}",
                    file=sys.stderr,
                )
            print("run: python scripts/gen_proto.py", file=sys.stderr)
            return 1

        target.mkdir(parents=True, exist_ok=True)
        for name in committed.keys() - fresh.keys():
            committed[name].unlink()
        for name, path in fresh.items():
            shutil.copyfile(path, target / name)
    verbs = {"missing": "added", "stale": "removed", "differs": "updated"}
    for line in problems:
        kind, _, rest = line.partition(": ")
        if kind in verbs:
            print(f"{verbs[kind]}: {rest.split(' (')[0]}")
    print(f"wrote {len(fresh)} files to {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
