"""A recorded call tree is read once per process (backends/calltree.py): the answers match a
walk of the whole tree in the database, and the later questions do not walk it again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from redun import Dir, File, Scheduler, task
from redun.backends import backend_from_config
from redun.backends.calltree import TREE_SQL

redun_namespace = "test_call_trees"


@task
def count(data: File) -> int:
    return len(data.read().split())


@task
def made_here(path: str) -> int:
    return count(File(path))  # the File is an argument only below the root


@task
def pair(first: str, second: str) -> list:
    return [File(first), File(second)]  # files inside a result: subvalues


@task
def folder(path: str) -> Dir:
    return Dir(path)


@task
def plain(i: int) -> int:
    return i + 1


@task
def main(first: str, second: str, folder_path: str) -> list:
    return [
        made_here(first),
        pair(first, second),
        folder(folder_path),
        [plain(i) for i in range(5)],
    ]


# Every argument and result value of the tree and what they hold: the walk the files
# query made before calltree.py, over all values (not only those that need a check).
ALL_FILES_SQL = (
    "WITH RECURSIVE tree(h) AS ("
    " SELECT call_hash FROM redun_call_node WHERE call_hash IN :roots"
    " UNION SELECT e.child_call_hash FROM redun_call_edge e"
    " JOIN tree t ON e.parent_call_hash = t.h),"
    " vals(v) AS ("
    " SELECT c.result_hash FROM tree JOIN redun_call_node c ON c.call_hash = tree.h"
    " UNION SELECT a.value_hash FROM tree JOIN redun_argument a ON a.call_hash = tree.h"
    " UNION SELECT s.child_hash FROM redun_subvalue s JOIN vals ON s.parent_hash = vals.v) "
    "SELECT DISTINCT f.path FROM vals JOIN redun_file f ON f.value_hash = vals.v"
)


def _recorded(tmp_path: Path) -> tuple[Any, str, set[str]]:
    first, second, folder_path = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "dir"
    first.write_text("a b c\n")
    second.write_text("d e\n")
    folder_path.mkdir()
    (folder_path / "x").write_text("x")
    uri = f"sqlite:///{tmp_path}/redun.db"
    scheduler = Scheduler(backend=backend_from_config({"db_uri": uri}))
    scheduler.run(main(str(first), str(second), str(folder_path)))
    root = scheduler.execution.job.call_hash
    backend = backend_from_config({"db_uri": uri})  # a new process's view
    # A Dir's files are recorded as its subvalues (lineage): they are files of the tree.
    expected = {str(first), str(second), str(folder_path), str(folder_path / "x")}
    return backend, root, expected


def test_files_below_a_call_match_a_walk_of_every_value(tmp_path: Path) -> None:
    backend, root, expected = _recorded(tmp_path)
    walked = {row[0] for row in backend.query_in(ALL_FILES_SQL, "roots", [root])}
    assert walked == expected
    assert backend.files_in_calls([root]) == expected  # not read before
    backend.get_call_tree([root])
    assert backend.files_in_calls([root]) == expected  # from the tree read
    made_here_call = next(
        h for h, r in backend.get_call_tree([root]).items() if r.task_name.endswith("made_here")
    )
    assert backend.files_in_calls([made_here_call]) == {str(tmp_path / "a.txt")}


def test_a_tree_is_walked_in_the_database_once(tmp_path: Path) -> None:
    backend, root, _ = _recorded(tmp_path)
    statements: list[str] = []
    query_in = backend._trees._query_in

    def counting(sql: str, name: str, items: Any) -> list[Any]:
        statements.append(sql)
        return query_in(sql, name, items)

    backend._trees._query_in = counting
    tree = backend.get_call_tree([root])
    assert len(tree) == 10  # main, made_here, count, pair, folder, plain x5
    checked = backend.checked_arguments([root])
    count_call = next(h for h, r in tree.items() if r.task_name.endswith(".count"))
    assert list(checked) == [count_call]  # the File argument made inside made_here
    backend.files_in_calls([root])
    assert statements.count(TREE_SQL) == 1
    assert backend.get_call_tree([root]) == tree
    assert statements.count(TREE_SQL) == 1


def test_a_call_missing_below_leaves_out_only_itself(tmp_path: Path) -> None:
    """A tree with a call that was never recorded (an edge to nothing) still gives the
    checked arguments and files of the calls that were."""
    import sqlite3

    backend, root, expected = _recorded(tmp_path)
    tree = backend_from_config({"db_uri": f"sqlite:///{tmp_path}/redun.db"}).get_call_tree([root])
    plain_call = next(h for h, r in tree.items() if r.task_name.endswith(".plain"))
    count_call = next(h for h, r in tree.items() if r.task_name.endswith(".count"))
    with sqlite3.connect(tmp_path / "redun.db") as db:
        db.execute("PRAGMA foreign_keys = OFF")
        db.execute("DELETE FROM redun_call_node WHERE call_hash = ?", (plain_call,))
    assert list(backend.checked_arguments([root])) == [count_call]
    assert plain_call not in backend.get_call_tree([root])
    assert backend.files_in_calls([root]) == expected
