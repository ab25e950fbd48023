"""``LineageTree``: one direction (up to the inputs, or down to the consumers) of a lineage graph."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from redun_tui.data.model import LineageEdge, LineageGraph, LineageNode


def node_label(node: LineageNode, edge: LineageEdge | None = None) -> Text:
    """``x = 4  int  f36f1a03`` for a value, ``e2e.inc  job 88a8697b`` for a call."""
    text = Text()
    if edge is not None and edge.name:
        text.append(f"{edge.name} = ", style="grey62")
    if node.kind == "call":
        text.append("⚙ ", style="yellow")
        text.append(node.task or node.label, style="bold")
        if node.job_id:
            text.append(f"  job {node.job_id[:8]}", style="grey62")
    else:
        preview = node.value
        if node.kind == "file":
            text.append("🗎 ", style="cyan")
            text.append(preview.file_path if preview and preview.file_path else node.label)
        else:
            text.append("● ", style="green")
            label = node.label if len(node.label) <= 60 else node.label[:59] + "…"
            text.append(label)
        if preview is not None and preview.type_name:
            text.append(f"  {preview.type_name}", style="grey62")
        text.append(f"  {node.id[:8]}", style="grey50")
    if node.truncated:
        text.append("  (more beyond)", style="italic grey50")
    return text


class LineageTree(Tree[str]):
    """Lineage from the graph's root, expanding lazily one step per level."""

    DEFAULT_CSS = """
    LineageTree {
        height: 1fr;
        border: round $primary 50%;
        padding: 0 1;
    }
    LineageTree:focus {
        border: round $primary;
    }
    """

    BINDINGS = [Binding("enter", "select_cursor", "Open", show=True)]

    direction: reactive[str] = reactive("up")
    """``up`` (towards the inputs) or ``down`` (towards the consumers)."""

    class Chosen(Message):
        """The user chose a node: a value or file (re-centre), or a call (open its job)."""

        def __init__(self, node: LineageNode) -> None:
            super().__init__()
            self.node = node

    def __init__(self, direction: str, *, id: str | None = None) -> None:
        super().__init__("lineage", id=id)
        self.direction = direction
        self.auto_expand = False
        self.graph: LineageGraph | None = None
        self._filled: set[int] = set()

    def _neighbours(self, node_id: str) -> list[tuple[LineageEdge, LineageNode]]:
        assert self.graph is not None
        if self.direction == "up":
            return self.graph.upstream(node_id)
        return self.graph.downstream(node_id)

    def show(self, graph: LineageGraph) -> None:
        self.graph = graph
        self.clear()
        self._filled.clear()
        root = graph.nodes.get(graph.root_id)
        if root is None:
            self.root.set_label(Text("nothing recorded", style="italic"))
            return
        self.root.set_label(node_label(root))
        self.root.data = root.id
        self._fill(self.root)
        self.root.expand()
        for child in self.root.children:
            self._fill(child)
            child.expand()

    def _fill(self, tree_node: TreeNode[str]) -> None:
        if id(tree_node) in self._filled or tree_node.data is None:
            return
        self._filled.add(id(tree_node))
        for edge, neighbour in self._neighbours(tree_node.data):
            has_more = bool(self._neighbours(neighbour.id))
            tree_node.add(node_label(neighbour, edge), data=neighbour.id, allow_expand=has_more)
        if not tree_node.children and tree_node is self.root:
            word = "inputs: a raw value" if self.direction == "up" else "consumers: none recorded"
            tree_node.add_leaf(Text(word, style="italic grey50"))

    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[str]) -> None:
        self._fill(event.node)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        if self.graph is not None and event.node.data in self.graph.nodes:
            self.post_message(self.Chosen(self.graph.nodes[event.node.data]))
