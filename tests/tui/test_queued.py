"""Queued remote jobs in the TUI: their look, and a counts column that appears with them."""

from __future__ import annotations

import asyncio

from textual.app import App, ComposeResult

from redun_tui.format import counts_text, state_text
from redun_tui.widgets import CountsTable


class CountsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CountsTable(id="counts")


def column_keys(table: CountsTable) -> list[str]:
    return [str(key.value) for key in table.columns]


def test_the_counts_table_grows_a_queued_column_with_the_first_queued_job() -> None:
    async def scenario() -> None:
        app = CountsApp()
        async with app.run_test(size=(160, 20)) as pilot:
            table = app.query_one(CountsTable)
            table.counts = {"flow.main": {"running": 1}}
            await pilot.pause()
            assert "queued" not in column_keys(table)  # local runs look as before
            table.counts = {"flow.main": {"running": 1}, "flow.align": {"queued": 3}}
            await pilot.pause()
            keys = column_keys(table)
            assert keys.index("pending") < keys.index("queued") < keys.index("running")
            row = table.get_row("flow.align")
            assert str(row[keys.index("queued")]) == "3"

    asyncio.run(scenario())


def test_queued_has_its_own_look() -> None:
    assert state_text("queued").plain == "◷ queued"
    assert "3◷" in counts_text({"queued": 3, "running": 1}, 4).plain
