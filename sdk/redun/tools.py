"""Ready-made tasks: copy files and directories with provenance, render templates, debug.

::

    from redun.tools import copy_dir, copy_file

    @task
    def publish(report: File) -> File:
        return copy_file(report, "s3://bucket/reports/")   # keeps the basename
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

from redun.file import Dir, File
from redun.task import task

T = TypeVar("T")


@task(namespace="redun", version="1", cache=False)
def debug_task(value: T) -> T:
    """Stop in the Python debugger where this value flows: ``x = debug_task(x)``.

    The debugger opens in the job's thread with ``value`` at hand; continue
    (``c``) to go on. Run with ``--no-progress`` so the progress table does not
    draw over the prompt.
    """
    import pdb

    pdb.set_trace()
    return value


@task(namespace="redun", version="1", config_args=["skip_if_exists"])
def copy_file(src_file: File, dest_path: str, skip_if_exists: bool = False) -> File:
    """Copy ``src_file`` to ``dest_path`` (a path ending in ``/`` keeps the basename).

    The copy is a recorded task: the lineage of the new file leads back to the old.
    """
    if dest_path.endswith("/"):
        dest_path += src_file.basename()
    return src_file.copy_to(File(dest_path), skip_if_exists=skip_if_exists)


@task(namespace="redun", version="1", config_args=["skip_if_exists", "copy_options"])
def copy_files(
    src_files: list[File],
    dest_paths: list[str],
    skip_if_exists: bool = False,
    copy_options: dict | None = None,
) -> list[File]:
    """Copy each file to its path, as parallel ``copy_file`` jobs."""
    if len(src_files) != len(dest_paths):
        from redun.errors import UsageError

        raise UsageError(
            f"copy_files: {len(src_files)} files but {len(dest_paths)} destination paths"
        )
    copy = copy_file.options(**copy_options) if copy_options else copy_file
    return [
        copy(src, dest, skip_if_exists=skip_if_exists) for src, dest in zip(src_files, dest_paths)
    ]


@task(namespace="redun", version="1", config_args=["skip_if_exists", "copy_options"])
def copy_dir(
    src_dir: Dir,
    dest_path: str,
    skip_if_exists: bool = False,
    copy_options: dict | None = None,
) -> Dir:
    """Copy a directory file by file (in parallel); the result is the new Dir."""
    dest_dir = Dir(dest_path)
    files = list(src_dir)
    dest_paths = [dest_dir.file(src_dir.rel_path(file.path)).path for file in files]
    copies = copy_files(files, dest_paths, skip_if_exists=skip_if_exists, copy_options=copy_options)
    # Taking the copies as an argument, the Dir is made (and hashed) after they exist.
    return _dir_after(dest_path, copies)


@task(namespace="redun", version="1")
def _dir_after(path: str, copies: Any) -> Dir:
    return Dir(path)


@task(namespace="redun", version="1")
def render_template(
    out_path: str, template: File, context: dict, template_dir: str | None = None
) -> File:
    """Render a jinja2 ``template`` with ``context`` into ``out_path``.

    Templates may include others from ``template_dir`` (default: the template's own
    directory). Needs jinja2 (``pip install 'redun[templates]'``).
    """
    try:
        import jinja2
    except ImportError as error:
        from redun.errors import UsageError

        raise UsageError(
            "render_template needs jinja2: pip install 'redun[templates]' (or jinja2)"
        ) from error
    directory = template_dir or template.dirname()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(directory), autoescape=False)
    rendered = env.get_template(os.path.relpath(template.path, directory)).render(context)
    out = File(out_path)
    out.write(rendered)
    return out
