"""Shell scripts as tasks: :func:`script`, and ``@task(script=True)``.

``script(command, inputs=[...], outputs=...)`` returns an expression for the
task ``redun.script``, which

1. stages its inputs in: each ``StagingFile``/``StagingDir`` is copied from
   its remote path (``s3://...`` or local) to its local path;
2. runs the command (a bash script with ``set -exo pipefail`` unless it starts
   with its own ``#!`` line), optionally in a fresh temporary directory;
3. stages its outputs out: local paths are copied to their remote paths;
4. returns ``outputs`` with every staging pair replaced by its remote
   ``File``/``Dir``, and ``File("-")`` replaced by the command's stdout (bytes).

Caching: the call is keyed by the command and the *current* state of the
input files, so editing an input re-runs it; the cached result holds the
output files, and with ``check_valid="shallow"`` it is re-run when one of them
was changed or deleted since.

Staging happens in Python, inside the job, rather than as ``cp``/``aws s3 cp``
lines rendered into the shell command: errors name the path and the task, and
no AWS CLI is needed. ``Staging.render_stage()`` still renders the shell form
for executors that want it.

The command's stdout and stderr are captured as the job's log lines (see
:mod:`redun.logs`); stderr is also shown live. A non-zero exit fails the job
with a :class:`ScriptError` whose message holds the end of the command's stderr.
"""

from __future__ import annotations

import contextvars
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
from textwrap import dedent
from typing import IO, Any

from redun.errors import FileError, RedunError, UsageError
from redun.file import Dir, File, RedunFileNotFoundError, Staging, StagingDir, StagingFile
from redun.file.filesystem import path_error
from redun.logs import MAX_PARTIAL, get_current_output, get_current_task_name
from redun.nested import iter_nested_value, map_nested_value
from redun.task import Task, task

DEFAULT_SHELL = "#!/usr/bin/env bash\nset -exo pipefail"
"""The interpreter line (and options) of a command that has none: bash, stop on first error."""

# How many trailing lines of stderr a ScriptError's message shows.
ERROR_TAIL_LINES = 20


class _Null:
    def __repr__(self) -> str:
        return "NULL"


NULL: Any = _Null()
"""Marks ``outputs`` as not given (``None`` is a valid ``outputs``)."""


class ScriptError(RedunError):
    """A script exited with a non-zero status.

    Attributes:
        message: the command's whole stderr (``str``, or ``bytes`` if not UTF-8).
        returncode: the exit status.
        stderr: the command's stderr as bytes.
    """

    def __init__(self, stderr: bytes, returncode: int = 1, *, task_name: str | None = None):
        self.stderr = stderr
        self.returncode = returncode
        self.task_name = task_name
        try:
            self.message: str | bytes = stderr.decode("utf8")
        except UnicodeDecodeError:
            self.message = stderr
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" (task {self.task_name})" if self.task_name else ""
        text = self.stderr.decode("utf8", errors="replace").rstrip("\n")
        if not text:
            return f"script exited with status {self.returncode}{where}; it wrote no stderr"
        lines = text.split("\n")
        shown = lines[-ERROR_TAIL_LINES:]
        cut = len(lines) - len(shown)
        head = f"[{cut} earlier line(s) of stderr not shown]\n" if cut else ""
        body = "\n".join("  " + line for line in shown)
        return f"script exited with status {self.returncode}{where}; stderr:\n{head}{body}"

    def __str__(self) -> str:
        return self._describe()

    def __reduce__(self) -> Any:
        # Survives the trip back from a worker process.
        return (_make_script_error, (self.stderr, self.returncode, self.task_name))


def _make_script_error(stderr: bytes, returncode: int, task_name: str | None) -> ScriptError:
    return ScriptError(stderr, returncode, task_name=task_name)


# -- commands ------------------------------------------------------------------


def prepare_command(command: str, default_shell: str = DEFAULT_SHELL) -> str:
    """Dedent ``command``, drop surrounding blank lines, and add an interpreter line if none."""
    command = dedent(command).strip()
    if not command.startswith("#!"):
        command = default_shell.rstrip("\n") + "\n" + command
    return command


def get_command_eof(command: str, eof_prefix: str = "EOF") -> str:
    """Return a here-document delimiter that no line of ``command`` equals."""
    lines = set(command.split("\n"))
    eof, index = eof_prefix, 0
    while eof in lines:
        index += 1
        eof = f"{eof_prefix}{index}"
    return eof


def get_wrapped_command(command: str, eof_prefix: str = "EOF") -> str:
    """Return a ``sh`` script that runs ``command`` (any interpreter) from a temp file."""
    eof = get_command_eof(command, eof_prefix)
    return (
        "(\n"
        'COMMAND_FILE="$(mktemp)"\n'
        f'cat > "$COMMAND_FILE" <<"{eof}"\n'
        f"{command}\n"
        f"{eof}\n"
        'chmod +x "$COMMAND_FILE"\n'
        '"$COMMAND_FILE"\n'
        "RETCODE=$?\n"
        'rm "$COMMAND_FILE"\n'
        "exit $RETCODE\n"
        ")\n"
    )


def _interpreter(command: str, script_path: str) -> list[str]:
    # Run the '#!' line's interpreter ourselves: no chmod, and temp directories
    # mounted noexec work too. Like the kernel, keep the rest as one argument.
    first = command.split("\n", 1)[0][2:].strip()
    if not first:
        raise UsageError("a script's '#!' line names no interpreter")
    program, _, argument = first.partition(" ")
    argument = argument.strip()
    return [program, argument, script_path] if argument else [program, script_path]


def exec_script(
    command: str,
    *,
    cwd: str | None = None,
    env: dict | None = None,
    task_name: str | None = None,
) -> bytes:
    """Run ``command`` (see :func:`prepare_command`) and return its stdout.

    Its stdout and stderr become the current job's log lines (stderr is also
    shown live).

    Args:
        command: the script.
        cwd: the directory to run it in (default: this process's).
        env: its environment (default: this process's).
        task_name: the task to name in errors (default: the current job's).

    Raises:
        ScriptError: the command exited with a non-zero status.
    """
    command = prepare_command(command)
    task_name = task_name or get_current_task_name()
    fd, script_path = tempfile.mkstemp(prefix="redun-script-", suffix=".sh")
    try:
        with os.fdopen(fd, "w", encoding="utf8") as out:
            out.write(command + "\n")
        try:
            proc = subprocess.Popen(
                _interpreter(command, script_path),
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise ScriptError(
                f"cannot start the script's interpreter: {exc}\n".encode(),
                127,
                task_name=task_name,
            ) from exc
        assert proc.stdout is not None and proc.stderr is not None
        stderr_chunks: list[bytes] = []
        # The stderr reader runs in a copy of this context, so its writes to
        # sys.stderr are routed to this job's log (and shown live).
        reader = threading.Thread(
            target=contextvars.copy_context().run,
            args=(_pump_stderr, proc.stderr, stderr_chunks),
            name="redun-script-stderr",
            daemon=True,
        )
        reader.start()
        stdout = _pump_stdout(proc.stdout)
        reader.join()
        returncode = proc.wait()
    finally:
        try:
            os.remove(script_path)
        except OSError:
            pass
    if returncode != 0:
        raise ScriptError(b"".join(stderr_chunks), returncode, task_name=task_name)
    return stdout


def _pump_stdout(stream: IO[bytes]) -> bytes:
    # stdout is the result (File("-")): it goes to the job's log, not the terminal.
    output = get_current_output(required=False)
    chunks: list[bytes] = []
    for line in iter(lambda: stream.readline(MAX_PARTIAL), b""):
        chunks.append(line)
        if output is not None:
            output.sink("stdout", line.decode("utf8", errors="replace"))
    stream.close()
    return b"".join(chunks)


_TRACE_LINE = re.compile(rb"^\++ ")


def show_trace() -> bool:
    """True if bash's ``set -x`` trace should be shown live (``REDUN_SCRIPT_TRACE=1``)."""
    return os.environ.get("REDUN_SCRIPT_TRACE", "").lower() in ("1", "true", "yes", "on")


def _pump_stderr(stream: IO[bytes], chunks: list[bytes]) -> None:
    # The shell's trace (`+ command` lines of set -x) goes to the job's log and to
    # error messages, but is shown live only when asked for (REDUN_SCRIPT_TRACE=1,
    # or `redun run --script-trace`).
    output = get_current_output(required=False)
    quiet_trace = output is not None and not show_trace()
    for line in iter(lambda: stream.readline(MAX_PARTIAL), b""):
        chunks.append(line)
        text = line.decode("utf8", errors="replace")
        try:
            if quiet_trace and _TRACE_LINE.match(line):
                assert output is not None
                output.write("stderr", text, echo=False)
            else:
                sys.stderr.write(text)
        except Exception:  # a closed or odd stderr must not lose the script's result
            pass
    stream.close()


def get_task_command(task: Task, args: tuple, kwargs: dict) -> str:
    """Return the prepared command of a ``@task(script=True)`` call."""
    command = task.func(*args, **kwargs)
    if not isinstance(command, str):
        raise UsageError(
            f"script task {task.fullname} must return the command as a str, "
            f"not {type(command).__name__}"
        )
    return prepare_command(command)


def run_script_task(task: Task, args: tuple, kwargs: dict) -> bytes:
    """Run a ``@task(script=True)`` call: build its command, run it, return stdout."""
    return exec_script(get_task_command(task, args, kwargs))


# -- the tasks -------------------------------------------------------------------


@task(name="script_task", namespace="redun", version="1", script=True, cache=False)
def script_task(command: str) -> str:
    """Run ``command`` as a shell script; the job's result is its stdout (bytes)."""
    return command


def _fresh(value: File | Dir) -> File | Dir:
    # A new object, so its hash is taken from the file's state now.
    return type(value)(value.path, content_hash=value._content_hash)


def _is_stdout(value: Any) -> bool:
    return isinstance(value, File) and value.path == "-"


def _rebase(staging: Staging, cwd: str | None) -> Staging:
    # With a temporary directory, relative local paths live inside it.
    if cwd is None or os.path.isabs(staging.local.path) or "://" in staging.local.path:
        return staging
    local = type(staging.local)(os.path.join(cwd, staging.local.path))
    return type(staging)(local, staging.remote)


def _caller_note(caller: str) -> str:
    return f"; script() was called by task {caller}" if caller else ""


def _stage_in(staging: Staging, caller: str) -> None:
    remote = staging.remote
    if not remote.exists():
        what = "directory" if isinstance(staging, StagingDir) else "file"
        raise path_error(
            RedunFileNotFoundError,
            "stage in",
            remote.path,
            f"the script's input {what} does not exist{_caller_note(caller)}",
        )
    staging.stage()


def _stage_out(staging: Staging, caller: str) -> None:
    local = staging.local
    if not local.exists():
        what = "directory" if isinstance(staging, StagingDir) else "file"
        raise path_error(
            RedunFileNotFoundError,
            "stage out",
            local.path,
            f"the script did not create this output {what}{_caller_note(caller)}",
        )
    staging.unstage()


@task(
    name="script",
    namespace="redun",
    version="2",
    check_valid="shallow",
    config_args=["caller"],
)
def _script(
    command: str,
    inputs: Any,
    outputs: Any,
    stage_in: list = [],  # noqa: B006 - a default that is never mutated
    tempdir: bool = False,
    caller: str = "",
) -> Any:
    """Stage inputs in, run ``command``, stage outputs out; return the outputs.

    ``inputs`` holds the remote input Files/Dirs: it is an argument so that
    their state is part of the call's hash. ``stage_in`` holds the staging
    pairs to copy before the command runs. ``caller`` (the task that called
    ``script()``, not hashed) is named in errors.
    """
    cwd = tempfile.mkdtemp(prefix="redun-script-") if tempdir else None
    label = f"redun.script, called by {caller}" if caller else None
    try:
        for staging in stage_in:
            _stage_in(_rebase(staging, cwd), caller)
        stdout = exec_script(command, cwd=cwd, task_name=label)
        for value in iter_nested_value(outputs):
            if isinstance(value, Staging):
                _stage_out(_rebase(value, cwd), caller)
    finally:
        if cwd is not None:
            shutil.rmtree(cwd, ignore_errors=True)

    def result(value: Any) -> Any:
        if _is_stdout(value):
            return stdout
        if isinstance(value, Staging):
            return _fresh(value.remote)
        return value

    return map_nested_value(result, outputs)


def script(
    command: str | list,
    inputs: Any = [],  # noqa: B006 - a default that is never mutated
    outputs: Any = NULL,
    tempdir: bool = False,
    as_mount: bool = False,
    **task_options: Any,
) -> Any:
    """Run a shell script as a task, staging files in and out.

    Args:
        command: the script (``str``; a ``#!`` first line picks the interpreter,
            bash with ``set -exo pipefail`` otherwise) or an argv ``list``.
        inputs: any nesting of ``StagingFile``/``StagingDir`` (``File(url).stage("local")``)
            to copy in before the command runs; plain ``File``/``Dir`` values
            are only tracked (the call re-runs when they change).
        outputs: any nesting of staging pairs to copy out after it ran, ``File``
            or ``Dir`` values the command writes in place, ``File("-")`` for its
            stdout, and plain values. Defaults to ``File("-")``.
        tempdir: run the command in a new temporary directory (removed after);
            relative local staging paths are inside it, and plain ``File``
            outputs written there are removed with it (stage them to keep them).
        as_mount: accepted for compatibility; staging always copies.
        **task_options: options for the job (``executor``, ``limits``, ``cache``...).

    Returns:
        An expression whose value has the shape of ``outputs``, staging pairs
        replaced by their remote ``File``/``Dir``, ``File("-")`` by stdout (bytes).
    """
    del as_mount  # staging copies in Python; mounts are an executor's business
    if outputs is NULL:
        outputs = File("-")
    if isinstance(command, list):
        command = shlex.join(str(part) for part in command)
    if not isinstance(command, str):
        raise UsageError(f"script() takes a str or a list as command, not {type(command).__name__}")

    def self_stage(value: Any) -> Any:
        # Outputs written in place are "staged" from and to the same path. In a
        # tempdir they stay there and go with it, as in redun: stage them
        # (File(path).stage("name")) to keep them.
        if isinstance(value, (File, Dir)) and not _is_stdout(value) and not tempdir:
            return value.stage(value.path)
        return value

    outputs = map_nested_value(self_stage, outputs)

    stagings: list[Staging] = []

    def tracked(value: Any) -> Any:
        if isinstance(value, Staging):
            stagings.append(value)
            return _fresh(value.remote)
        if isinstance(value, (File, Dir)):
            return _fresh(value)
        return value

    input_values = map_nested_value(tracked, inputs)
    for value in iter_nested_value(inputs):
        if isinstance(value, (StagingFile, StagingDir)) and "://" in value.local.path:
            raise FileError(
                f"script input {value.remote.path!r} is staged to {value.local.path!r}; "
                "the local side of a staging pair must be a local path"
            )
    script_call = _script.options(**task_options) if task_options else _script
    return script_call(
        prepare_command(command),
        input_values,
        outputs,
        stage_in=stagings,
        tempdir=tempdir,
        caller=get_current_task_name() or "",
    )


__all__ = [
    "DEFAULT_SHELL",
    "NULL",
    "ScriptError",
    "exec_script",
    "get_command_eof",
    "get_task_command",
    "get_wrapped_command",
    "iter_nested_value",
    "map_nested_value",
    "prepare_command",
    "run_script_task",
    "script",
    "script_task",
]
