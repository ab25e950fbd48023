"""Why a job ran, or why it hit the cache: ``redun explain`` and ``redun run --explain``.

A job hits the cache when a recorded call has its eval hash (the same task
hash and argument hashes) and that call is still valid. When it runs instead,
the useful answer is a difference: compared with the *closest earlier call*
of the same task (the most arguments in common, then the same code, then the
newest), what changed?

* **code**: the task hash differs; the recorded code parts (see
  :mod:`redun.codehash`) say which part: the task's own source, a helper
  function, a class, a module constant, a package version;
* **arguments**: which argument's hash differs, with both values' previews;
  for files, which file changed (hash and size);
* **validity**: same code and arguments, but the earlier call no longer counts
  (a task below it changed, its result's files changed or vanished, its cache
  entry was cleared) or the cache was not consulted (``--no-cache``,
  ``cache=False``).

The API returns :class:`Explanation` objects; :func:`explain_job` explains a
recorded job, :func:`explain_jobs` explains live jobs of a run (the run's own
calls are ignored, so a job is compared with what existed before the run).

The modules: :mod:`~redun.explain.api` (the entry points),
:mod:`~redun.explain.model` (the results), :mod:`~redun.explain.explainer`
(hits and runs), :mod:`~redun.explain.closest` (the closest earlier call),
:mod:`~redun.explain.compare` (code, argument and file differences),
:mod:`~redun.explain.files` (the files an argument holds) and
:mod:`~redun.explain.render` (text).

Example::

    from redun.explain import explain_job
    print(explain_job(backend, "3f2a").format())
"""

from redun.explain.api import explain_job, explain_jobs, report_run
from redun.explain.model import Change, Explanation, PreviousCall

__all__ = [
    "Change",
    "Explanation",
    "PreviousCall",
    "explain_job",
    "explain_jobs",
    "report_run",
]
