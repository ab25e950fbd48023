"""``JobInfo``: a task's view of the job running it.

A task asks for it with a parameter whose default is ``JobInfo()``::

    @task
    def train(data, job_info: JobInfo = JobInfo()):
        memory = job_info.options.get("memory")

The scheduler fills the parameter in when the job is made. It is not an
input: it does not count in the call's hash, so the cache is unaffected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redun.scheduler.job import Job
    from redun.task import Task


class JobInfo:
    """Run-time facts about a job: its execution, ids, hashes and task options.

    Args:
        execution_id: the execution the job belongs to.
        job_id: the job's id.
        eval_hash: the job's cache key (task hash and argument hashes).
        args_hash: the hash of its arguments.
        options: the task options in force for the job, exported ones included.
    """

    def __init__(
        self,
        execution_id: str = "",
        job_id: str = "",
        eval_hash: str = "",
        args_hash: str = "",
        options: dict | None = None,
    ) -> None:
        self.execution_id = execution_id
        self.job_id = job_id
        self.eval_hash = eval_hash
        self.args_hash = args_hash
        self.options: dict = dict(options or {})

    @classmethod
    def from_job(cls, job: Job) -> JobInfo:
        """The info of ``job`` (made by the scheduler; tasks receive it as an argument)."""
        return cls(
            execution_id=job.execution.id if job.execution is not None else "",
            job_id=job.id,
            eval_hash=job.eval_hash,
            args_hash=job.args_hash,
            options=job.get_options(),
        )

    def __setstate__(self, state: dict) -> None:
        self.execution_id = state.get("execution_id", "")
        self.job_id = state.get("job_id", "")
        self.eval_hash = state.get("eval_hash", "")
        self.args_hash = state.get("args_hash", "")
        self.options = state.get("options", {})

    def __repr__(self) -> str:
        return (
            f"JobInfo(execution_id={self.execution_id}, job_id={self.job_id}, "
            f"eval_hash={self.eval_hash}, args_hash={self.args_hash}, options={self.options})"
        )


_params: dict[int, frozenset[str]] = {}


def job_info_params(task: Task) -> frozenset[str]:
    """Names of ``task``'s parameters that default to ``JobInfo()`` (cached per function)."""
    key = id(task.func)
    names = _params.get(key)
    if names is None:
        names = frozenset(
            param.name
            for param in task.signature.parameters.values()
            if isinstance(param.default, JobInfo)
        )
        _params[key] = names
    return names


def fill_job_info(job: Job, names: frozenset[str]) -> None:
    """Replace the ``JobInfo`` placeholders among ``job``'s arguments with the real info."""
    info = JobInfo.from_job(job)
    params = list(job.task.signature.parameters)
    args = list(job.call_args)
    for index, value in enumerate(args):
        if index < len(params) and params[index] in names and isinstance(value, JobInfo):
            args[index] = info
    kwargs: dict[str, Any] = dict(job.kwargs)
    for name in names:
        position = params.index(name)
        if position >= len(args) and isinstance(kwargs.get(name, JobInfo()), JobInfo):
            kwargs[name] = info
    job.call_args = tuple(args)
    job.kwargs = kwargs
