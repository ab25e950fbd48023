"""``CountsTable``: jobs of an execution by task and state."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import DataTable

from redun_tui.data.model import JOB_STATES
from redun_tui.format import STATE_LOOK


class CountsTable(DataTable[Text]):
    """One row per task, one column per state, and a total row."""

    DEFAULT_CSS = """
    CountsTable {
        height: auto;
        max-height: 12;
        border: round $secondary 50%;
    }
    """

    counts: reactive[dict[str, dict[str, int]]] = reactive(dict, always_update=True)
    """``{task: {state: count}}``; setting it redraws the table."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", show_cursor=False, zebra_stripes=False)
        self._drawn: dict[str, dict[str, int]] = {}
        # Only remote jobs queue: the column appears with the first queued job.
        self._states = [state for state in JOB_STATES if state != "queued"]

    def on_mount(self) -> None:
        self._add_columns()

    def _add_columns(self) -> None:
        self.add_column("task", key="task", width=40)
        for state in self._states:
            symbol, style = STATE_LOOK[state]
            self.add_column(Text(f"{symbol} {state}", style=style), key=state, width=11)
        self.add_column("total", key="total", width=8)

    def watch_counts(self, counts: dict[str, dict[str, int]]) -> None:
        if not self.columns or counts == self._drawn:
            return
        if "queued" not in self._states and any(c.get("queued") for c in counts.values()):
            self._states = list(JOB_STATES)
            self.clear(columns=True)
            self._add_columns()
        rows = dict(counts)
        if len(rows) > 1:
            totals: dict[str, int] = {}
            for by_state in counts.values():
                for state, count in by_state.items():
                    totals[state] = totals.get(state, 0) + count
            rows["(all)"] = totals
        self.clear()
        for task, by_state in rows.items():
            cells = [Text(task, style="bold" if task == "(all)" else "")]
            for state in self._states:
                count = by_state.get(state, 0)
                cells.append(
                    Text(
                        str(count) if count else "·",
                        style=STATE_LOOK[state][1] if count else "grey42",
                    )
                )
            cells.append(Text(str(sum(by_state.values()))))
            self.add_row(*cells, key=task)
        self._drawn = {task: dict(by_state) for task, by_state in counts.items()}
