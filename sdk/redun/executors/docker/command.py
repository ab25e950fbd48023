"""The ``docker run`` command line of one call: pure, so tests read exactly what is run.

One container runs one call (a lone job, or one element of an array). It is
named after the submission (``redun-<key>-<token>``, an element ``...-<index>``)
and labelled, so ``docker ps --filter label=...`` finds an executor's
containers after a restart::

    redun-executor   the executor's name       redun-scope   a digest of the scratch root
    redun-name       the submission's name     redun-created when it was submitted
    redun-index      the element (arrays)      redun-size    the array's size
    redun-run, redun-key, redun-token, redun-task: the layer's labels

Secrets never reach a command line: credentials go as ``-e NAME`` (docker
copies the value from its own environment), never ``-e NAME=VALUE``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from redun.executors.docker.settings import (
    DockerSettings,
    Volume,
    parse_env,
    parse_resources,
    parse_volumes,
)
from redun.executors.remote.backend import Submission

LABEL_EXECUTOR = "redun-executor"
LABEL_SCOPE = "redun-scope"
LABEL_NAME = "redun-name"
LABEL_CREATED = "redun-created"
LABEL_INDEX = "redun-index"
LABEL_SIZE = "redun-size"


def scope_of(scratch_root: str) -> str:
    """The ``redun-scope`` label of a scratch: two projects' executors of one name stay apart."""
    return hashlib.sha256(scratch_root.encode()).hexdigest()[:16]


def container_name(submission_name: str, index: int | None) -> str:
    """``redun-<key>-<token>`` for a lone job, ``...-<index>`` for an array's element."""
    return submission_name if index is None else f"{submission_name}-{index}"


@dataclass(frozen=True)
class Placement:
    """Where a submission runs: what the scheduler's environment lends every container.

    Attributes:
        scratch_root: the scratch's root as the scheduler sees it.
        scratch_mount: a local scratch's path in the container ("" for s3:// or gs://).
        mounts: the scratch and credential files, besides the configured volumes.
        passed_env: names of variables docker copies from its own environment.
        config_dir: relative host paths of task ``volumes`` are taken from here.
    """

    scratch_root: str
    scratch_mount: str = ""
    mounts: tuple[Volume, ...] = ()
    passed_env: tuple[str, ...] = ()
    config_dir: str = "."


def in_container(command: Sequence[str], placement: Placement) -> list[str]:
    """The entrypoint's command with a local scratch's paths moved to where it is mounted."""
    root, mount = placement.scratch_root, placement.scratch_mount
    if not mount or mount == root:
        return list(command)
    moved = []
    for word in command:
        if word == root:
            word = mount
        elif word.startswith(root + "/"):
            word = mount.rstrip("/") + word[len(root) :]
        moved.append(word)
    return moved


def run_command(
    settings: DockerSettings,
    submission: Submission,
    index: int | None,
    placement: Placement,
    *,
    created: float,
    detach: bool = True,
    tty: bool = False,
) -> list[str]:
    """``docker run ...`` for element ``index`` of ``submission`` (None: a lone job).

    Task options (``image``, ``vcpus``, ``memory``, ``gpus``, ``shared_memory``,
    ``volumes``, ``env``) win over the executor's settings.

    Raises:
        ExecutorError: a task option that cannot be used, naming the task.
    """
    options: Mapping[str, Any] = submission.options
    where = f"task {submission.task_name} option"
    image = str(options.get("image") or settings.image)
    resources = parse_resources(options, settings.resources, where)
    volumes = (
        *placement.mounts,
        *settings.volumes,
        *parse_volumes(options.get("volumes"), placement.config_dir, f"{where} volumes"),
    )
    env = [*settings.env, *parse_env(options.get("env"), f"{where} env")]

    name = container_name(submission.name, index)
    argv = [settings.program, "run"]
    if detach:
        argv.append("-d")
    else:
        argv += ["-it"] if tty else ["-i"]
    argv += ["--name", name]
    labels = {
        LABEL_EXECUTOR: settings.executor,
        LABEL_SCOPE: scope_of(placement.scratch_root),
        LABEL_NAME: submission.name,
        LABEL_CREATED: f"{created:.3f}",
        **submission.labels,
    }
    if index is not None:
        labels[LABEL_INDEX] = str(index)
        labels[LABEL_SIZE] = str(submission.size)
    for key, value in labels.items():
        argv += ["--label", f"{key}={value}"]
    for volume in volumes:
        argv += ["-v", volume.flag()]
    argv += ["-e", "PYTHONUNBUFFERED=1"]
    for variable in placement.passed_env:
        argv += ["-e", variable]
    for variable, given in env:
        argv += ["-e", variable if given is None else f"{variable}={given}"]
    if settings.workdir:
        argv += ["--workdir", settings.workdir]
    if settings.user:
        argv += ["--user", settings.user]
    argv += resources.flags()
    argv += settings.run_args
    argv.append(image)
    argv += in_container(submission.command, placement)
    if index is not None:
        argv += ["--array-index", str(index)]
    return argv
