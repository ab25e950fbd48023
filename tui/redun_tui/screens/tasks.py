"""``TasksScreen``: recorded tasks, their versions, and each version's source."""

from __future__ import annotations

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Header, Input, Static

from redun.errors import RedunError
from redun_tui.data.model import TaskInfo
from redun_tui.format import age
from redun_tui.screens.base import RedunScreen


class TasksScreen(RedunScreen):
    """Tasks by name; the highlighted one's versions and source on the right."""

    DEFAULT_CSS = """
    TasksScreen #tasks {
        width: 66;
        border: round $primary 50%;
    }
    TasksScreen #source-pane {
        width: 1fr;
        border: round $secondary 50%;
    }
    TasksScreen #query {
        border: round $accent 40%;
    }
    """

    class Loaded(Message):
        """The task list arrived."""

        def __init__(self, tasks: list[TaskInfo]) -> None:
            super().__init__()
            self.tasks = tasks

    class TaskLoaded(Message):
        """One task with its sources arrived."""

        def __init__(self, task: TaskInfo) -> None:
            super().__init__()
            self.task = task

    def __init__(self, query: str = "") -> None:
        super().__init__()
        self.initial_query = query
        self.tasks: dict[str, TaskInfo] = {}

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Input(value=self.initial_query, placeholder="task name contains…", id="query")
        with Horizontal():
            yield DataTable(id="tasks", cursor_type="row")
            with VerticalScroll(id="source-pane"):
                yield Static(id="source")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "tasks"
        table = self.query_one("#tasks", DataTable)
        table.border_title = "Tasks"
        self.query_one("#source-pane").border_title = "Versions and source"
        for label, width in (("task", 30), ("versions", 8), ("calls", 6), ("last used", 9)):
            table.add_column(label, key=label, width=width)
        table.focus()
        self.load(self.initial_query)

    @work(thread=True, exit_on_error=False, exclusive=True, group="tasks")
    def load(self, query: str) -> None:
        try:
            tasks = self.source.tasks(query)
        except RedunError as error:
            self.show_error(error, "cannot list tasks")
            return
        self.post_message(self.Loaded(tasks))

    @work(thread=True, exit_on_error=False, exclusive=True, group="task")
    def load_task(self, full_name: str) -> None:
        try:
            task = self.source.task(full_name)
        except RedunError as error:
            self.show_error(error, f"cannot load task {full_name}")
            return
        self.post_message(self.TaskLoaded(task))

    @on(Input.Changed, "#query")
    def _query(self, event: Input.Changed) -> None:
        self.load(event.value)

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        now = self.clock()
        self.tasks = {task.full_name: task for task in message.tasks}
        table = self.query_one("#tasks", DataTable)
        table.clear()
        for task in message.tasks:
            last = max((v.last_used or 0.0 for v in task.versions), default=0.0)
            table.add_row(
                Text(task.full_name, style="bold"),
                str(len(task.versions)),
                str(sum(v.call_count for v in task.versions)),
                age(last, now) if last else "",
                key=task.full_name,
            )
        table.border_subtitle = f"{len(message.tasks)} tasks"
        if message.tasks:
            self.load_task(message.tasks[0].full_name)

    @on(DataTable.RowHighlighted, "#tasks")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value:
            self.load_task(event.row_key.value)

    @on(TaskLoaded)
    def _task_loaded(self, message: TaskLoaded) -> None:
        task = message.task
        parts: list[Text | Syntax] = [Text(task.full_name, style="bold")]
        for index, version in enumerate(task.versions):
            head = Text(f"\nversion {index + 1} of {len(task.versions)}", style="bold cyan")
            head.append(f"  hash {version.hash[:12]}", style="grey62")
            if version.version:
                head.append(f"  version={version.version!r}")
            head.append(f"  {version.call_count} calls", style="grey62")
            parts.append(head)
            if version.source:
                parts.append(
                    Syntax(version.source, "python", theme="ansi_dark", line_numbers=False)
                )
        from rich.console import Group

        self.query_one("#source", Static).update(Group(*parts))
