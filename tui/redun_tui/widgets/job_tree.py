"""``JobTree``: an execution's DAG as a tree that expands lazily and redraws only what changed."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual import on
from textual.binding import Binding
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from redun_tui.format import job_label
from redun_tui.live import JobBoard

MORE = "more:"


class JobTree(Tree[str]):
    """The jobs of a :class:`~redun_tui.live.JobBoard`, parent above children.

    A node's children are made when it is expanded, ``page_size`` at a time (a
    "more" line loads the next page), so a 10,000-job fan-out costs a few
    hundred nodes until someone scrolls through it. With a filter the tree
    becomes a flat list of the matching jobs.
    """

    DEFAULT_CSS = """
    JobTree {
        height: 1fr;
        border: round $primary 50%;
        padding: 0 1;
    }
    JobTree:focus {
        border: round $primary;
    }
    """

    BINDINGS = [
        Binding("enter", "select_cursor", "Open job", show=True),
        Binding("space", "toggle_node", "Expand", show=True),
    ]

    page_size: reactive[int] = reactive(200)
    """How many children of a node are shown before a "more" line."""

    flat: reactive[bool] = reactive(False)
    """True while the tree lists filtered jobs instead of the DAG."""

    class JobChosen(Message):
        """The user chose a job (enter on its line)."""

        def __init__(self, job_id: str) -> None:
            super().__init__()
            self.job_id = job_id

    def __init__(
        self,
        board: JobBoard,
        *,
        clock: Callable[[], float] = time.time,
        id: str | None = None,
    ) -> None:
        super().__init__("jobs", id=id)
        self.board = board
        self.clock = clock
        self.show_root = False
        self.auto_expand = False
        self._job_nodes: dict[str, TreeNode[str]] = {}
        self._shown: dict[str, int] = {}  # parent job id -> children made so far
        self._more: dict[str, TreeNode[str]] = {}

    # -- building ---------------------------------------------------------------
    def _label(self, job_id: str) -> Text:
        return job_label(
            self.board.jobs[job_id],
            self.clock(),
            children=len(self.board.children.get(job_id, ())),
        )

    def _add_job(self, parent: TreeNode[str], job_id: str) -> TreeNode[str]:
        has_children = bool(self.board.children.get(job_id))
        node = parent.add(self._label(job_id), data=job_id, allow_expand=has_children)
        self._job_nodes[job_id] = node
        return node

    def _fill(self, job_id: str) -> None:
        """Make the next page of ``job_id``'s children."""
        node = self._job_nodes.get(job_id)
        if node is None:
            return
        children = self.board.children.get(job_id, [])
        start = self._shown.get(job_id, 0)
        more = self._more.pop(job_id, None)
        if more is not None:
            more.remove()
        end = min(len(children), start + self.page_size)
        for child in children[start:end]:
            self._add_job(node, child)
        self._shown[job_id] = end
        self._update_more(job_id)

    def _update_more(self, job_id: str) -> None:
        node = self._job_nodes[job_id]
        hidden = len(self.board.children.get(job_id, ())) - self._shown.get(job_id, 0)
        label = Text(f"… {hidden} more (enter to show)", style="italic grey62")
        more = self._more.get(job_id)
        if hidden <= 0:
            if more is not None:
                more.remove()
                del self._more[job_id]
        elif more is None:
            self._more[job_id] = node.add_leaf(label, data=MORE + job_id)
        else:
            more.set_label(label)

    def rebuild(self) -> None:
        """Draw the DAG from scratch: roots expanded, one level below them.

        The cursor stays on the job it was on, if that job is still drawn, else
        on the first root: a DAG starts at its root.
        """
        chosen = self.highlighted_job
        self.clear()
        self._job_nodes.clear()
        self._shown.clear()
        self._more.clear()
        self.flat = False
        for root in self.board.roots:
            node = self._add_job(self.root, root)
            self._fill(root)
            node.expand()
        chosen_node = self._job_nodes.get(chosen) if chosen else None
        if chosen_node is not None and chosen_node.line >= 0:
            self.cursor_line = chosen_node.line
        else:
            self.cursor_line = 0 if self.last_line >= 0 else -1

    def tick(self) -> None:
        """Redraw the lines of jobs still running (their durations go on)."""
        jobs = self.board.jobs
        for job_id, node in self._job_nodes.items():
            job = jobs.get(job_id)
            if job is not None and job.start is not None and job.end is None:
                node.set_label(self._label(job_id))

    def show_matches(self, job_ids: list[str]) -> None:
        """List only these jobs (a filter's matches), flat."""
        self.clear()
        self._job_nodes.clear()
        self._shown.clear()
        self._more.clear()
        self.flat = True
        for job_id in job_ids[: self.page_size * 5]:
            node = self.root.add_leaf(self._label(job_id), data=job_id)
            self._job_nodes[job_id] = node
        hidden = len(job_ids) - self.page_size * 5
        if hidden > 0:
            self.root.add_leaf(Text(f"… {hidden} more; narrow the filter", style="italic"))
        self._keep_cursor()

    def _keep_cursor(self) -> None:
        if self.cursor_line < 0 and self.last_line >= 0:
            self.cursor_line = 0

    # -- live updates -----------------------------------------------------------------
    def update_jobs(self, added: list[str], updated: list[str]) -> None:
        """Redraw changed jobs and place new ones whose parent is on screen."""
        if self.flat:
            for job_id in updated:
                node = self._job_nodes.get(job_id)
                if node is not None:
                    node.set_label(self._label(job_id))
            return
        touched_parents: set[str] = set()
        for job_id in added:
            job = self.board.jobs[job_id]
            if not job.parent_id:
                node = self._add_job(self.root, job_id)
                self._fill(job_id)
                node.expand()
                continue
            touched_parents.add(job.parent_id)
        for parent_id in touched_parents:
            parent = self._job_nodes.get(parent_id)
            if parent is None:
                continue
            parent.allow_expand = True
            parent.set_label(self._label(parent_id))
            if parent_id not in self._shown:
                continue  # not expanded yet: its children are made on expansion
            shown = self._shown[parent_id]
            children = self.board.children[parent_id]
            if shown < len(children) and shown < self.page_size:
                self._fill(parent_id)
            else:
                self._update_more(parent_id)
        for job_id in updated:
            node = self._job_nodes.get(job_id)
            if node is not None:
                node.set_label(self._label(job_id))
        self._keep_cursor()

    # -- events -------------------------------------------------------------------------
    @on(Tree.NodeExpanded)
    def _expanded(self, event: Tree.NodeExpanded[str]) -> None:
        job_id = event.node.data
        if job_id and not job_id.startswith(MORE) and job_id not in self._shown:
            self._fill(job_id)

    @on(Tree.NodeSelected)
    def _selected(self, event: Tree.NodeSelected[str]) -> None:
        data = event.node.data
        event.stop()
        if data and data.startswith(MORE):
            self._fill(data[len(MORE) :])
        elif data:
            self.post_message(self.JobChosen(data))

    @property
    def highlighted_job(self) -> str | None:
        node = self.cursor_node
        data = node.data if node is not None else None
        return data if data and not data.startswith(MORE) else None

    def node_count(self) -> int:
        """How many job lines exist (for tests of lazy expansion)."""
        return len(self._job_nodes)
