"""Widgets of the terminal UI, one per module."""

from __future__ import annotations

from redun_tui.widgets.counts_table import CountsTable
from redun_tui.widgets.detail_view import DetailView
from redun_tui.widgets.filter_bar import FilterBar
from redun_tui.widgets.job_log import JobLog
from redun_tui.widgets.job_tree import JobTree
from redun_tui.widgets.lineage_tree import LineageTree

__all__ = ["CountsTable", "DetailView", "FilterBar", "JobLog", "JobTree", "LineageTree"]
