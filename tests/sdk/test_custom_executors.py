"""Executors written for insitro/redun run here unchanged.

Such an executor is registered with ``@register_executor("type")``, reads a job's
arguments as ``args, kwargs = job.args``, reports with
``done_job(job, result, job_tags=...)`` or
``reject_job(job, error, error_traceback=Traceback.from_error(error))``, may take
script tasks in ``submit_script`` and logs through ``self.log``. The executor
below is written the way redun's own executors are.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest

from redun import Scheduler, task
from redun.config import Config
from redun.executors.base import Executor, register_executor
from redun.scheduler import Frame, Job, Traceback

redun_namespace = "test_custom_executors"


@register_executor("test_redun_style")
class RedunStyleExecutor(Executor):
    """Runs each job on its own thread, as a redun user's executor would."""

    def __init__(self, name: str, scheduler: Any = None, config: Any = None) -> None:
        super().__init__(name, scheduler=scheduler)
        self.site = (config or {}).get("site", "nowhere")
        self.scripts: list[str] = []

    def submit(self, job: Job) -> None:
        args, kwargs = job.args
        self.log(f"submitting {job.task.name}")
        threading.Thread(target=self._run, args=(job, args, kwargs)).start()

    def submit_script(self, job: Job) -> None:
        self.scripts.append(job.task.name)
        args, kwargs = job.args
        command = job.task.func(*args, **kwargs)
        self._scheduler.done_job(job, f"ran: {command.strip()}")

    def _run(self, job: Job, args: tuple, kwargs: dict) -> None:
        try:
            result = job.task.func(*args, **kwargs)
        except Exception as error:
            self._scheduler.reject_job(
                job,
                error,
                error_traceback=Traceback.from_error(error),
                job_tags=[("site", self.site)],
            )
        else:
            self._scheduler.done_job(job, result, job_tags=[("site", self.site)])


@register_executor("test_capturing")
class CapturingExecutor(Executor):
    """Runs each job on its own thread through the scheduler's run_job_function, which
    captures what the task prints in the job's log and reports the outcome."""

    def submit(self, job: Job) -> None:
        threading.Thread(target=self.scheduler.run_job_function, args=(job,)).start()


@task(executor="capturing")
def talk(x: int) -> int:
    print(f"talking about {x}")
    return x


@task(executor="mine")
def add(a: int, b: int, scale: int = 1) -> int:
    return (a + b) * scale


@task(executor="mine")
def refuse(value: int) -> int:
    if value > 2:
        raise ValueError(f"too big: {value}")
    return value


@task(executor="mine", script=True)
def shout(word: str) -> str:
    return f"echo {word}"


@task()
def fan_out(n: int) -> list[int]:
    return [add(i, 10, scale=2) for i in range(n)]


@pytest.fixture
def scheduler(tmp_path: Path) -> Scheduler:
    config = Config(
        {
            "backend": {"db_uri": f"sqlite:///{tmp_path / 'redun.db'}"},
            "executors.mine": {"type": "test_redun_style", "site": "rack-7"},
            "executors.capturing": {"type": "test_capturing"},
        }
    )
    return Scheduler(config=config)


def test_a_redun_style_executor_runs_calls_with_their_arguments(
    scheduler: Scheduler, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="redun"):
        assert scheduler.run(fan_out(4)) == [20, 22, 24, 26]
    rows = sqlite3.connect(tmp_path / "redun.db").execute(
        "SELECT entity_id, key, value FROM redun_tag WHERE entity_type = 'job'"
    )
    tagged = {entity_id: (key, value) for entity_id, key, value in rows}
    added = [job for job in scheduler.jobs() if job.task.name == "add"]
    assert len(added) == 4
    assert all(tagged.get(job.id) == ("site", '"rack-7"') for job in added)
    assert caplog.messages.count("Executor[mine]: submitting add") == 4


def test_run_job_function_captures_what_the_task_prints(
    scheduler: Scheduler, tmp_path: Path
) -> None:
    assert scheduler.run(talk(5)) == 5
    [job] = scheduler.jobs()
    rows = sqlite3.connect(tmp_path / "redun.db").execute(
        "SELECT text FROM redun_job_log WHERE job_id = ?", (job.id,)
    )
    assert "".join(text for (text,) in rows) == "talking about 5\n"


def test_job_args_are_positional_and_keyword_arguments(scheduler: Scheduler) -> None:
    scheduler.run(add(1, 2, scale=3))
    job = next(job for job in scheduler.jobs() if job.task.name == "add")
    assert job.args == ((1, 2), {"scale": 3})
    assert job.eval_args == job.args


def test_the_executor_s_traceback_is_recorded_and_raised(scheduler: Scheduler) -> None:
    from redun.backends.db import Job as JobRow

    with pytest.raises(ValueError, match="too big: 3"):
        scheduler.run(refuse(3))
    row = scheduler.backend.session.query(JobRow).one()
    recorded = row.call_node.value.value_parsed.traceback
    assert recorded.startswith("Traceback (most recent call last):")
    assert 'raise ValueError(f"too big: {value}")' in recorded
    assert "in _run" in recorded  # the executor's own frame, as it reported it
    assert recorded.rstrip().endswith("ValueError: too big: 3")


def test_script_tasks_go_to_submit_script(scheduler: Scheduler) -> None:
    assert scheduler.run(shout("hi")) == "ran: echo hi"
    assert scheduler.executors["mine"].scripts == ["shout"]


def _raise_in_user_code() -> None:
    secret = {"k": 1}  # noqa: F841 - a local the frame shows
    raise KeyError("missing")


def test_traceback_from_error_keeps_the_user_s_frames_and_formats_like_python() -> None:
    try:
        _raise_in_user_code()
    except KeyError as error:
        found = Traceback.from_error(error)
    names = [frame.name for frame in found.frames]
    assert names == ["test_traceback_from_error_keeps_the_user_s_frames_and_formats_like_python",
                     "_raise_in_user_code"]  # fmt: skip
    text = found.text()
    assert text.startswith("Traceback (most recent call last):\n")
    assert 'raise KeyError("missing")' in text
    assert text.endswith("KeyError: 'missing'")


def test_trim_frames_drops_the_engine_s_frames_and_what_called_them() -> None:
    import redun.scheduler.outcomes as engine_module

    engine_file = engine_module.__file__
    frames = [
        traceback.FrameSummary("/home/me/launch.py", 3, "main", lookup_line=False),
        traceback.FrameSummary(engine_file, 100, "run_job_function", lookup_line=False),
        traceback.FrameSummary("/home/me/flow.py", 10, "my_task", lookup_line=False),
        traceback.FrameSummary("/home/me/lib.py", 20, "helper", lookup_line=False),
    ]
    kept = Traceback.trim_frames(frames)
    assert [frame.filename for frame in kept] == ["/home/me/flow.py", "/home/me/lib.py"]
    assert Traceback.trim_frames(frames[:2]) == []


def test_traceback_and_frame_are_recordable_values(tmp_path: Path) -> None:
    from redun.value import get_type_registry

    @task()
    def step(x: int) -> int:
        return x

    job = Job(step, step(1))
    source = tmp_path / "flow.py"
    source.write_text("@task()\ndef step(x):\n    return x\n")
    frame = Frame(str(source), 1, "step", {"x": 1, "big": "y" * 500}, job=job)
    assert frame.lineno == 2 and frame.line == "def step(x):"  # past the decorator
    assert frame.locals["x"] == "1" and len(frame.locals["big"]) == 200
    original = Traceback(
        ValueError("boom"),
        [traceback.FrameSummary(str(source), 3, "step"), frame],
        logs=["line one", "line two\n"],
    )
    assert Traceback.type_name == "redun.Traceback" and Frame.type_name == "redun.Frame"
    registry = get_type_registry()
    data = registry.serialize(original)
    # Read back where nothing has imported the module that defines the type yet.
    code = (
        "import pickle, sys\n"
        "from redun.value import get_type_registry\n"
        "value = get_type_registry().deserialize('redun.Traceback', sys.stdin.buffer.read())\n"
        "sys.stdout.write(value.text())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, check=True)
    text = proc.stdout.decode()
    assert text == original.text()
    assert f'  Job {job.id[:8]}: File "{source}", line 2, in step\n' in text
    assert "    big = 'yyy" in text and "    x   = 1\n" in text
    assert text.endswith("Latest logs:\nline one\nline two\n")
    again = pickle.loads(data)
    assert registry.serialize(again) == data
    assert again.frames[1].job.id == job.id


@register_executor("test_careless")
class CarelessExecutor(Executor):
    """Reports with tags of the wrong shape and a traceback of its own kind."""

    def submit(self, job: Job) -> None:
        args, kwargs = job.args
        try:
            result = job.task.func(*args, **kwargs)
        except Exception as error:
            self._scheduler.reject_job(job, error, error_traceback=object(), job_tags=["x"])
        else:
            self._scheduler.done_job(job, result, job_tags=["not-a-pair"])


@task(executor="careless")
def careless_add(a: int, b: int) -> int:
    return a + b


@task(executor="careless")
def careless_fail(value: int) -> int:
    raise ValueError(f"careless {value}")


def test_malformed_tags_and_tracebacks_never_lose_the_outcome(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = Config(
        {
            "backend": {"db_uri": f"sqlite:///{tmp_path / 'redun.db'}"},
            "executors.careless": {"type": "test_careless"},
        }
    )
    scheduler = Scheduler(config=config)
    with caplog.at_level(logging.WARNING, logger="redun"):
        assert scheduler.run(careless_add(2, 3)) == 5
        with pytest.raises(ValueError, match="careless 4"):
            scheduler.run(careless_fail(4))
    assert (
        sum("executor tags" in message and "ignored" in message for message in caplog.messages) == 2
    )
    # The run's records were all committed: both jobs are there, no tags.
    db = sqlite3.connect(tmp_path / "redun.db")
    assert db.execute("SELECT COUNT(*) FROM redun_job").fetchone() == (2,)
    assert db.execute("SELECT COUNT(*) FROM redun_tag WHERE entity_type = 'job'").fetchone() == (0,)
