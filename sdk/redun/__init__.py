"""redun: a fast, reactive Python workflow engine.

Write tasks with :func:`task`; calling a task returns a lazy expression that a
:class:`Scheduler` evaluates in parallel, caching every call by the hash of its
code and arguments.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# Names that are also submodules' names are bound here: importing ``redun.task`` or
# ``redun.namespace`` would otherwise set the package's attribute to the module.
from redun.namespace import get_current_namespace, namespace
from redun.task import PartialTask, Task, get_task_registry, scheduler_task, task

if TYPE_CHECKING:
    from redun.executors.base import register_executor
    from redun.expression import Expression, TaskExpression
    from redun.scheduler import (
        Scheduler,
        apply_tags,
        catch,
        catch_all,
        cond,
        get_context,
        get_current_scheduler,
        merge_handles,
        set_current_scheduler,
        throw,
    )

__version__ = "0.1.0"
version = __version__

# Loaded on first use, so that commands that run no workflow (submit, log, the daemon's
# clients) do not import the scheduler: `import redun.cli.main` 42 -> 16 ms.
_LAZY = {
    "register_executor": "redun.executors.base",
    "Expression": "redun.expression",
    "TaskExpression": "redun.expression",
    "Scheduler": "redun.scheduler",
    "apply_tags": "redun.scheduler",
    "catch": "redun.scheduler",
    "catch_all": "redun.scheduler",
    "cond": "redun.scheduler",
    "get_context": "redun.scheduler",
    "get_current_scheduler": "redun.scheduler",
    "merge_handles": "redun.scheduler",
    "set_current_scheduler": "redun.scheduler",
    "throw": "redun.scheduler",
    "File": "redun.file",
    "Dir": "redun.file",
    "StagingFile": "redun.file",
    "StagingDir": "redun.file",
    "script": "redun.scripting",
    "Handle": "redun.handle",
    "ShardedS3Dataset": "redun.file.sharded",
    "LocalExecutor": "redun.executors.local",
    "AliasExecutor": "redun.executors.alias",
    "AWSBatchExecutor": "redun.executors.aws_batch",
    "DockerExecutor": "redun.executors.docker",
    "GCPBatchExecutor": "redun.executors.gcp_batch",
    "Value": "redun.value",
    "ProxyValue": "redun.value",
    "get_type_registry": "redun.value",
    "wraps_task": "redun.task_wrap",
    "subrun": "redun.scheduler.subrun",
}


def __getattr__(name: str) -> Any:
    import importlib
    import importlib.util

    module_name = _LAZY.get(name)
    if module_name is None:
        # A submodule not imported yet (`import redun` then `redun.scheduler.Scheduler`,
        # as with redun, which imported its subpackages eagerly).
        if name.startswith("_") or importlib.util.find_spec(f"redun.{name}") is None:
            raise AttributeError(f"module 'redun' has no attribute {name!r}")
        return importlib.import_module(f"redun.{name}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


_schedulers: dict[str | None, Scheduler] = {}


def run(expr: Any, config_dir: str | None = None, **run_config: Any) -> Any:
    """Evaluate ``expr`` with a scheduler configured from ``config_dir``.

    The default is found as ``redun run`` finds it: $REDUN_CONFIG, else the nearest
    ``.redun`` here or above, else ``./.redun``.
    """
    from redun.config import find_config_dir, load_config
    from redun.scheduler import Scheduler

    scheduler = _schedulers.get(config_dir)
    if scheduler is None:
        config = load_config(find_config_dir(config_dir))
        scheduler = _schedulers[config_dir] = Scheduler(config=config)
    return scheduler.run(expr, **run_config)


__all__ = [
    "AWSBatchExecutor",
    "Dir",
    "DockerExecutor",
    "Expression",
    "File",
    "GCPBatchExecutor",
    "Handle",
    "LocalExecutor",
    "AliasExecutor",
    "PartialTask",
    "ProxyValue",
    "Scheduler",
    "ShardedS3Dataset",
    "StagingDir",
    "StagingFile",
    "Task",
    "TaskExpression",
    "Value",
    "__version__",
    "apply_tags",
    "catch",
    "catch_all",
    "cond",
    "get_context",
    "get_current_namespace",
    "get_current_scheduler",
    "get_task_registry",
    "get_type_registry",
    "merge_handles",
    "namespace",
    "register_executor",
    "run",
    "scheduler_task",
    "script",
    "set_current_scheduler",
    "subrun",
    "task",
    "throw",
    "version",
    "wraps_task",
]
