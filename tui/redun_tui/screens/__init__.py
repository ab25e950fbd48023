"""Screens of the terminal UI, one per module."""

from __future__ import annotations

from redun_tui.screens.execution import ExecutionScreen
from redun_tui.screens.executions import ExecutionsScreen
from redun_tui.screens.files import FilesScreen
from redun_tui.screens.help import HelpScreen
from redun_tui.screens.job import JobScreen
from redun_tui.screens.lineage import LineageScreen
from redun_tui.screens.search import SearchScreen
from redun_tui.screens.submit import SubmitChoice, SubmitScreen
from redun_tui.screens.tasks import TasksScreen
from redun_tui.screens.values import ValuesScreen
from redun_tui.screens.welcome import WelcomeScreen

__all__ = [
    "ExecutionScreen",
    "ExecutionsScreen",
    "FilesScreen",
    "HelpScreen",
    "JobScreen",
    "LineageScreen",
    "SearchScreen",
    "SubmitChoice",
    "SubmitScreen",
    "TasksScreen",
    "ValuesScreen",
    "WelcomeScreen",
]
