"""``SubmitScreen``: pick a workflow file and a task, type its arguments, run or watch it."""

from __future__ import annotations

import glob
import os
import shlex
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from redun_tui.data.model import RunRequest
from redun_tui.workflow import TaskSignature, read_tasks


@dataclass
class SubmitChoice:
    """What the user asked for: a run (or a watch) of ``request``."""

    request: RunRequest
    watch: bool = False


class SubmitScreen(ModalScreen[SubmitChoice | None]):
    """A form: workflow file, task (read from the file), arguments as a command line."""

    DEFAULT_CSS = """
    SubmitScreen {
        align: center middle;
    }
    SubmitScreen #form {
        width: 100;
        height: auto;
        border: thick $primary;
        background: $surface;
        padding: 1 2;
    }
    SubmitScreen Label {
        margin-top: 1;
        color: $text-muted;
    }
    SubmitScreen #hint {
        color: $text-muted;
        height: auto;
    }
    SubmitScreen #buttons {
        height: auto;
        margin-top: 1;
    }
    SubmitScreen Button {
        margin-right: 2;
    }
    """

    BINDINGS = [Binding("escape", "close", "Close", show=True)]

    workflow_path: reactive[str] = reactive("")
    """The workflow file typed in the form."""

    def __init__(self, initial: RunRequest | None = None, *, working_dir: str | None = None):
        super().__init__()
        self.working_dir = os.path.abspath(working_dir or os.getcwd())
        self.initial = initial
        self.signatures: dict[str, TaskSignature] = {}

    def _default_file(self) -> str:
        if self.initial is not None:
            return self.initial.workflow_path
        candidates = sorted(glob.glob(os.path.join(self.working_dir, "*.py")))
        return os.path.relpath(candidates[0], self.working_dir) if candidates else ""

    def compose(self) -> ComposeResult:
        initial_args = ""
        if self.initial is not None:
            parts = []
            for name, value in self.initial.args.items():
                parts += [f"--{name}", value]
            initial_args = shlex.join(parts + list(self.initial.argv))
        with Vertical(id="form"):
            yield Label("Workflow file (relative to the working directory)")
            yield Input(value=self._default_file(), id="file")
            yield Label("Task")
            yield Select[str]([], id="task", prompt="pick a task")
            yield Static(id="hint")
            yield Label("Arguments, as on the command line")
            yield Input(value=initial_args, placeholder="--n 10 --name world", id="args")
            yield Checkbox("Run every job again (no cache)", id="no-cache")
            with Horizontal(id="buttons"):
                yield Button("Submit", variant="primary", id="submit")
                yield Button("Watch", id="watch")
                yield Button("Cancel", variant="error", id="close")

    def on_mount(self) -> None:
        self.query_one("#form").border_title = f"Submit a run · {self.working_dir}"
        self.workflow_path = self.query_one("#file", Input).value
        self.query_one("#file", Input).focus()

    @on(Input.Changed, "#file")
    def _file_changed(self, event: Input.Changed) -> None:
        self.workflow_path = event.value.strip()

    def watch_workflow_path(self, path: str) -> None:
        full = os.path.join(self.working_dir, path) if path else ""
        hint = self.query_one("#hint", Static)
        select: Select[str] = self.query_one("#task", Select)
        if not full or not os.path.isfile(full):
            self.signatures = {}
            select.set_options([])
            hint.update("no such file yet" if path else "")
            return
        try:
            signatures = read_tasks(full)
        except (OSError, SyntaxError) as error:
            self.signatures = {}
            select.set_options([])
            hint.update(f"cannot read tasks: {error}")
            return
        self.signatures = {s.name: s for s in signatures}
        select.set_options([(s.name, s.name) for s in signatures])
        wanted = self.initial.task.rsplit(".", 1)[-1] if self.initial else ""
        if wanted in self.signatures:
            select.value = wanted
        elif signatures:
            select.value = signatures[0].name
        if not signatures:
            hint.update("no @task functions in this file")

    @on(Select.Changed, "#task")
    def _task_changed(self, event: Select.Changed) -> None:
        signature = self.signatures.get(str(event.value))
        hint = self.query_one("#hint", Static)
        if signature is not None:
            doc = f"  {signature.doc}" if signature.doc else ""
            hint.update(f"{signature.name} {signature.hint()}{doc}")

    def choice(self, *, watch: bool) -> SubmitChoice | None:
        task = self.query_one("#task", Select).value
        if not isinstance(task, str) or not self.workflow_path:
            self.notify("pick a workflow file and a task", severity="warning")
            return None
        try:
            argv = shlex.split(self.query_one("#args", Input).value)
        except ValueError as error:
            self.notify(f"cannot read the arguments: {error}", severity="error")
            return None
        request = RunRequest(
            workflow_path=self.workflow_path,
            task=task,
            argv=argv,
            working_dir=self.working_dir,
            no_cache=self.query_one("#no-cache", Checkbox).value,
        )
        return SubmitChoice(request, watch=watch)

    @on(Button.Pressed, "#submit")
    def _submit(self) -> None:
        choice = self.choice(watch=False)
        if choice is not None:
            self.dismiss(choice)

    @on(Button.Pressed, "#watch")
    def _watch(self) -> None:
        choice = self.choice(watch=True)
        if choice is not None:
            self.dismiss(choice)

    @on(Button.Pressed, "#close")
    def action_close(self) -> None:
        self.dismiss(None)
