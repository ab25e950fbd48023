"""Loading a workflow file and parsing its tasks' arguments: shared by the CLI and the daemon."""

from redun.workflow.args import parse_task_args
from redun.workflow.loader import WorkflowLoadError, find_task, import_workflow

__all__ = ["WorkflowLoadError", "find_task", "import_workflow", "parse_task_args"]
