"""``LineageScreen``: where a value or file came from, and what was made from it."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer, Header

from redun.errors import RedunError
from redun_tui.data.model import LineageGraph
from redun_tui.screens.base import RedunScreen
from redun_tui.widgets.detail_view import DetailView
from redun_tui.widgets.lineage_tree import LineageTree, node_label


class LineageScreen(RedunScreen):
    """Upstream (inputs) on the left, downstream (consumers) on the right.

    Choosing a value or file re-centres the lineage on it (a new screen, so
    ``escape`` walks back); choosing a call opens the job that made it.
    """

    DEFAULT_CSS = """
    LineageScreen #target {
        height: auto;
    }
    """

    class Loaded(Message):
        """The lineage graph arrived."""

        def __init__(self, graph: LineageGraph) -> None:
            super().__init__()
            self.graph = graph

    def __init__(self, *, value_hash: str = "", file_path: str = "") -> None:
        super().__init__()
        self.value_hash = value_hash
        self.file_path = file_path
        self.graph: LineageGraph | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield DetailView(id="target")
        with Horizontal():
            yield LineageTree("up", id="upstream")
            yield LineageTree("down", id="downstream")
        yield Footer()

    def on_mount(self) -> None:
        target = self.file_path or self.value_hash[:8]
        self.sub_title = f"lineage of {target}"
        self.query_one("#target", DetailView).border_title = "Lineage of"
        self.query_one("#upstream", LineageTree).border_title = "Upstream: made from"
        self.query_one("#downstream", LineageTree).border_title = "Downstream: used by"
        self.query_one("#upstream", LineageTree).focus()
        self.load()

    @work(thread=True, exit_on_error=False, exclusive=True, group="lineage")
    def load(self) -> None:
        try:
            graph = self.source.lineage(value_hash=self.value_hash, file_path=self.file_path)
        except RedunError as error:
            self.show_error(error, "cannot trace lineage")
            return
        self.post_message(self.Loaded(graph))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.graph = graph = message.graph
        root = graph.nodes.get(graph.root_id)
        rows = [("value", node_label(root) if root else graph.root_id)]
        if root is not None and root.value is not None:
            rows.append(("hash", root.value.hash))
            if root.value.type_name:
                rows.append(("type", root.value.type_name))
        self.query_one("#target", DetailView).rows = rows
        self.query_one("#upstream", LineageTree).show(graph)
        self.query_one("#downstream", LineageTree).show(graph)

    @on(LineageTree.Chosen)
    def _chosen(self, message: LineageTree.Chosen) -> None:
        node = message.node
        if node.kind == "call":
            if node.job_id:
                self.redun.open_job(node.job_id)
        elif self.graph is not None and node.id != self.graph.root_id:
            self.redun.open_lineage(value_hash=node.id)
