"""The docker executor's options: ``[executors.NAME]`` keys and task options, checked early.

Names follow redun's docker executor, so an existing ``redun.ini`` keeps
working: ``image``, ``scratch``, ``vcpus``, ``memory`` (GB), ``gpus``,
``shared_memory`` (GB), ``volumes`` (a JSON list of ``[host, container]``
pairs, host paths relative to the config directory), ``interactive``,
``include_aws_env``, ``job_monitor_interval``, ``code_package``,
``code_includes``, ``code_excludes``. Ours besides: ``max_concurrency``,
``env``, ``include_gcp_env``, ``scratch_mount``, ``user``, ``workdir``,
``run_args``, ``docker``.

Everything here is pure: a bad value raises a one-line error naming the key,
the value and what to write instead, before any container starts.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redun.config import parse_flag
from redun.errors import ExecutorError, UsageError

DEFAULT_VCPUS = 1.0
DEFAULT_MEMORY_GB = 4.0
"""redun's defaults: every container gets ``--cpus=1 --memory=4g`` unless told otherwise."""

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Volume:
    """A bind mount: ``host`` (absolute) at ``container`` (absolute), ``mode`` ``rw`` or ``ro``."""

    host: str
    container: str
    mode: str = "rw"

    def flag(self) -> str:
        suffix = ":ro" if self.mode == "ro" else ""
        return f"{self.host}:{self.container}{suffix}"


@dataclass(frozen=True)
class Resources:
    """What one container may use: ``--cpus``, ``--memory``, ``--gpus``, ``--shm-size``."""

    vcpus: float = DEFAULT_VCPUS
    memory_mb: int = int(DEFAULT_MEMORY_GB * 1024)
    gpus: str = ""
    shared_memory_mb: int | None = None

    def flags(self) -> list[str]:
        flags = [f"--cpus={self.vcpus:g}", f"--memory={self.memory_mb}m"]
        if self.gpus:
            flags += ["--gpus", self.gpus]
        if self.shared_memory_mb is not None:
            flags.append(f"--shm-size={self.shared_memory_mb}m")
        return flags


@dataclass(frozen=True)
class DockerSettings:
    """The executor's configuration section, parsed.

    Attributes:
        executor: the executor's name (for messages and the container label).
        image: the default image (``@task(image=...)`` overrides it).
        program: the docker command (``docker``; ``podman`` works too).
        max_concurrency: containers of this executor running at once.
        interactive: run each container in the foreground, on this terminal.
        volumes: bind mounts of every container.
        env: ``(name, value)``; value None passes the scheduler's own value by name.
        include_aws_env / include_gcp_env: pass the cloud variables that are set.
        scratch_mount: where a local scratch appears in the container ("" = same path).
        user, workdir: ``--user`` and ``--workdir`` ("" = the image's).
        run_args: more ``docker run`` flags, given as they are.
        resources: the defaults of vcpus, memory, gpus and shared_memory.
    """

    executor: str
    image: str
    program: str = "docker"
    max_concurrency: int = 1
    interactive: bool = False
    volumes: tuple[Volume, ...] = ()
    env: tuple[tuple[str, str | None], ...] = ()
    include_aws_env: bool = True
    include_gcp_env: bool = True
    scratch_mount: str = ""
    user: str = ""
    workdir: str = ""
    run_args: tuple[str, ...] = ()
    resources: Resources = Resources()


def parse_settings(name: str, config: Mapping[str, Any], config_dir: str) -> DockerSettings:
    """The settings of ``[executors.NAME]``.

    Raises:
        UsageError: a missing image, or a value that cannot be used (naming the key).
    """
    where = f"[executors.{name}]"
    image = str(config.get("image") or "").strip()
    if not image:
        raise UsageError(
            f"{where} type = docker needs image = IMAGE: a Docker image with redun (the "
            "same version as here) and your task's requirements installed"
        )
    mount = str(config.get("scratch_mount") or "").strip()
    if mount and not mount.startswith("/"):
        raise UsageError(f"{where} scratch_mount = {mount!r} must be an absolute container path")
    workdir = str(config.get("workdir") or "").strip()
    if workdir and not workdir.startswith("/"):
        raise UsageError(f"{where} workdir = {workdir!r} must be an absolute container path")
    try:
        run_args = tuple(shlex.split(str(config.get("run_args") or "")))
    except ValueError as exc:
        raise UsageError(f"{where} run_args: {exc}") from None
    return DockerSettings(
        executor=name,
        image=image,
        program=str(config.get("docker") or "docker").strip(),
        max_concurrency=_positive_int(config, "max_concurrency", os.cpu_count() or 2, where),
        interactive=_flag(config, "interactive", False, where),
        volumes=parse_volumes(config.get("volumes"), config_dir, f"{where} volumes"),
        env=parse_env(config.get("env"), f"{where} env"),
        include_aws_env=_flag(config, "include_aws_env", True, where),
        include_gcp_env=_flag(config, "include_gcp_env", True, where),
        scratch_mount=mount.rstrip("/") or ("/" if mount else ""),
        user=str(config.get("user") or "").strip(),
        workdir=workdir,
        run_args=run_args,
        resources=parse_resources(config, Resources(), where, UsageError),
    )


def parse_resources(
    options: Mapping[str, Any],
    defaults: Resources,
    where: str,
    error: type[Exception] = ExecutorError,
) -> Resources:
    """``vcpus``, ``memory`` and ``shared_memory`` (GB), ``gpus`` over ``defaults``."""
    vcpus = _number(options, "vcpus", where, error)
    memory = _number(options, "memory", where, error)
    shared = _number(options, "shared_memory", where, error)
    gpus = options.get("gpus")
    gpu_flag = defaults.gpus
    if gpus is not None and gpus != "":
        text = str(gpus).strip().lower()
        if text == "all":
            gpu_flag = "all"
        elif text.isdigit():
            gpu_flag = "" if int(text) == 0 else str(int(text))
        else:
            raise error(f"{where} gpus = {gpus!r} is not a number of GPUs or 'all'")
    return Resources(
        vcpus=defaults.vcpus if vcpus is None else vcpus,
        memory_mb=defaults.memory_mb if memory is None else max(6, round(memory * 1024)),
        gpus=gpu_flag,
        shared_memory_mb=defaults.shared_memory_mb if shared is None else round(shared * 1024),
    )


def parse_volumes(value: Any, base_dir: str, where: str) -> tuple[Volume, ...]:
    """Bind mounts from redun's JSON list of ``[host, container]`` pairs (or ``host:container``).

    A third element (or ``:ro``) may say ``ro``. Relative host paths are taken
    from ``base_dir``; container paths must be absolute.
    """
    if value is None or value == "" or value == []:
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise UsageError(
                f'{where} = {value!r} is not JSON; write [["host/dir", "/container/dir"]]'
            ) from None
    if not isinstance(value, (list, tuple)):
        raise UsageError(f'{where} must be a list of pairs: [["host/dir", "/container/dir"]]')
    volumes = []
    for item in value:
        parts = item.split(":") if isinstance(item, str) else item
        if not isinstance(parts, (list, tuple)) or len(parts) not in (2, 3):
            raise UsageError(f"{where}: {item!r} is not a [host, container] pair")
        host, container = str(parts[0]), str(parts[1])
        mode = str(parts[2]) if len(parts) == 3 else "rw"
        if not container.startswith("/"):
            raise UsageError(f"{where}: container path {container!r} must be absolute")
        if mode not in ("ro", "rw"):
            raise UsageError(f"{where}: mode {mode!r} of {item!r} must be 'ro' or 'rw'")
        host = os.path.abspath(os.path.join(base_dir, os.path.expanduser(host)))
        volumes.append(Volume(host, container, mode))
    return tuple(volumes)


def parse_env(value: Any, where: str) -> tuple[tuple[str, str | None], ...]:
    """Variables for the container: ``NAME=VALUE`` words, or ``NAME`` alone to pass ours.

    A mapping (a task option ``env={"NAME": "value"}``) is taken as it is; a
    None value passes the scheduler's own.
    """
    if value is None or value == "":
        return ()
    pairs: list[tuple[str, str | None]] = []
    if isinstance(value, Mapping):
        pairs = [(str(key), None if item is None else str(item)) for key, item in value.items()]
    else:
        try:
            words = shlex.split(str(value))
        except ValueError as exc:
            raise UsageError(f"{where}: {exc}") from None
        for word in words:
            key, sep, item = word.partition("=")
            pairs.append((key, item if sep else None))
    for key, _ in pairs:
        if not _ENV_NAME.match(key):
            raise UsageError(f"{where}: {key!r} is not a variable name (write NAME=VALUE or NAME)")
    return tuple(pairs)


def _flag(config: Mapping[str, Any], key: str, default: bool, where: str) -> bool:
    return parse_flag(config.get(key), default, f"{where} {key}")


def _positive_int(config: Mapping[str, Any], key: str, default: int, where: str) -> int:
    value = config.get(key)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise UsageError(f"{where} {key} = {value!r} is not a whole number of at least 1")
    return number


def _number(
    options: Mapping[str, Any], key: str, where: str, error: type[Exception]
) -> float | None:
    value = options.get(key)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not number > 0:
        unit = " (GB)" if key in ("memory", "shared_memory") else ""
        raise error(f"{where} {key} = {value!r} is not a positive number{unit}")
    return number
