"""Cache policy: which recorded calls can stand in for a job, and how.

A job may reuse a recorded call with the same eval hash (same task hash, same
argument hashes, same context) when the call is still *valid*:

* ``check_valid="shallow"``: the call's own result is still valid (its files
  were not changed or deleted since), and every call below it was made by a
  task whose current hash is the recorded one (as redun's shallow check: the
  code of the whole tree, the files of the top result only). The job takes
  the result in one step.
* ``check_valid="full"`` (default): also every call below it in the call tree
  was made by a task whose current hash is the recorded one, their results and
  the files passed to them are still valid, and none has ``cache=False`` (a
  ``shallow`` call below counts on its own result and the code below it). Then the job takes the
  result in one step, however big the tree: a fully cached recursive workflow
  is one lookup.

When a check fails only *below* the call, the call's own function need
not run: if it returned an expression, the job is a :class:`Replay` of it:
the expression is evaluated again, each call in it answered on its own (in one
step where its own tree is valid), so only the calls that are no longer valid
run (redun's "single reduction"). A call that returned a plain value whose
files changed runs again.

Lookups are batched: one query per scheduler iteration, one more for the call
trees of the hits, one for their values and recorded expressions. A call found
valid in a tree walked earlier in the run is not asked for again: a replayed
expression's calls are mostly those (an edit of one task of a 1,000-call
fan-out asks the store for the root and the calls the edit changed).

A full check that finds a call valid is remembered in the store (a
:class:`~redun.backends.base.TreeCheck`): the tree below a call hash never
changes, so the verdict rests only on the current hashes of the tasks in the
walked calls, on the tasks the walk stopped at still being
``check_valid="shallow"``, and on the files it checked still being valid. A
later run (any process) that finds those conditions takes the call as valid
without reading its tree, with one query for the verdicts of all its hits; any
difference, and the tree is walked as above (the walk alone says why a call is
not valid). Verdicts resting on many files (over :data:`MAX_TREE_CHECK_VALUES`)
are not kept: checking them costs about what the walk does. A shallow hit keeps a
code-only verdict (the tasks below the call, marked :data:`CODE_ONLY`), which
only a shallow lookup takes.

A miss or a replay sets ``job.reason`` to why the recorded call did not count
as it stood (which task in the call tree changed, which result's files
changed), so ``redun explain`` and ``--dryrun`` can say it without another
query.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from redun.backends.base import CacheHit, CallRecord, TreeCheck, value_is_valid
from redun.plain import Plain
from redun.scheduler.context import WHOLE, ContextReads
from redun.scheduler.replay import REPLAY_REASON_PREFIX

if TYPE_CHECKING:
    from redun.scheduler.job import Job
    from redun.task import TaskRegistry


# A verdict resting on more values than this is not kept (see the module doc).
MAX_TREE_CHECK_VALUES = 100

# Listed with the shallow tasks of a verdict whose ``tasks`` include the calls below
# them (a verdict without it, from an older version, is not trusted: the tree is walked).
CODE_BELOW_SHALLOW = "+code-below"

# The whole "shallow" list of a verdict kept by a check_valid="shallow" lookup: its
# ``tasks`` are every call's below the call, and nothing else was checked.
CODE_ONLY = "+code-only"


class Replay(Plain):
    """A cached call whose returned expression is evaluated again (see the module doc)."""

    __slots__ = ("call_hash", "expr", "expr_hash", "reason")

    def __init__(self, call_hash: str, expr: Any, expr_hash: str, reason: str) -> None:
        self.call_hash = call_hash
        self.expr = expr
        self.expr_hash = expr_hash
        self.reason = reason


class CacheChecker:
    """Answers cache lookups for one execution, remembering validity verdicts."""

    def __init__(self, backend: Any, registry: TaskRegistry, context: dict | None = None) -> None:
        self.backend = backend
        self.registry = registry
        self._reads = ContextReads(context or {})
        self._valid: dict[str, bool] = {}
        # Calls of cache=False tasks whose own tree is valid: never taken whole as a
        # call *below* another, but a cached job of the same call may take them
        # (redun writes a cache=False call's result to the cache like any other).
        self._valid_as_root: set[str] = set()
        self._why: dict[str, str] = {}  # call hash -> why it is not valid
        self._current_hash: dict[str, str | None] = {}
        self._shallow: dict[str, bool] = {}
        self._task_has_calls: dict[str, bool] = {}
        # Calls found valid in a tree walked this run, by eval hash: a replayed
        # expression's calls are mostly these, answered without another query.
        self._valid_by_eval: dict[str, CallRecord] = {}
        # Call hash -> None when every call in its recorded tree was made by the current
        # version of its task, else why not (the code part of a shallow check).
        self._code_below: dict[str, str | None] = {}

    def _may_have_calls(self, task_hash: str) -> bool:
        known = self._task_has_calls.get(task_hash)
        if known is None:
            known = self._task_has_calls[task_hash] = self.backend.has_calls(task_hash)
        return known

    def lookup(self, jobs: list[Job]) -> Iterator[tuple[Job, CacheHit | Replay | None]]:
        # A task version never recorded before cannot hit: skip the query (a first run of
        # a workflow, or a chain whose jobs become ready one at a time, asks nothing).
        candidates = [job for job in jobs if self._may_have_calls(job.task.hash)]
        if len(candidates) < len(jobs):
            chosen = {id(job) for job in candidates}
            for job in jobs:
                if id(job) not in chosen:
                    yield job, None
            jobs = candidates
            if not jobs:
                return
        found = self._found_in_walked_trees(jobs)
        if len(found) < len(jobs):
            found.update(
                self.backend.find_calls(
                    [job.eval_hash for job in jobs if job.eval_hash not in found]
                )
            )
        if not found:
            for job in jobs:
                yield job, None
            return
        full_roots = [
            found[job.eval_hash].call_hash
            for job in jobs
            if job.eval_hash in found and job.task.check_valid == "full"
        ]
        unknown = [h for h in full_roots if h not in self._valid]
        if unknown:
            unknown = self._judge_from_tree_checks(unknown)
        tree = self.backend.get_call_tree(unknown) if unknown else {}
        if tree:
            self._judge_tree(unknown, tree)
        shallow_roots = [
            found[job.eval_hash].call_hash
            for job in jobs
            if job.eval_hash in found and job.task.check_valid == "shallow"
        ]
        unjudged = [h for h in shallow_roots if h not in self._code_below]
        if unjudged:
            unjudged, had_verdict = self._code_from_tree_checks(unjudged)
        if unjudged:
            shallow_tree = self.backend.get_call_tree(unjudged)
            kept: dict[str, TreeCheck] = {}
            for root in unjudged:
                if self._judge_code_below(root, shallow_tree) is None and root not in had_verdict:
                    kept[root] = self._code_check(root, shallow_tree)
            if kept:
                self.backend.remember_tree_checks(kept)
        # Shallow checks, the results of valid calls, the expressions of calls to replay.
        wanted: list[str] = []
        verdicts: dict[int, CallRecord] = {}
        replays: dict[int, CallRecord] = {}
        for index, job in enumerate(jobs):
            record = found.get(job.eval_hash)
            if record is None:
                continue
            if job.task.check_valid == "full":
                if not (
                    self._valid.get(record.call_hash, False)
                    or record.call_hash in self._valid_as_root
                ):
                    if record.expr_hash is not None:
                        replays[index] = record
                        wanted.append(record.expr_hash)
                    continue
            else:
                changed = self._code_below.get(record.call_hash)
                if changed is not None:
                    self._why[record.call_hash] = changed
                    if record.expr_hash is not None:
                        replays[index] = record
                        wanted.append(record.expr_hash)
                    continue
            verdicts[index] = record
            wanted.append(record.result_hash)
        values = self.backend.get_values(wanted) if wanted else {}
        unknown_checks = [
            record.result_hash for record in verdicts.values() if record.result_needs_check is None
        ]
        shallow_check = {
            record.result_hash for record in verdicts.values() if record.result_needs_check
        }
        if unknown_checks:
            shallow_check |= self.backend.values_needing_check(unknown_checks)
        for index, job in enumerate(jobs):
            replay = replays.get(index)
            if replay is not None:
                yield job, self._replay(job, replay, values)
                continue
            record = verdicts.get(index)
            if record is None or record.result_hash not in values:
                if job.eval_hash in found and not job.reason:
                    job.reason = self._miss_reason(found[job.eval_hash], record is None)
                yield job, None
                continue
            value = values[record.result_hash]
            if record.result_hash in shallow_check and not value_is_valid(value):
                job.reason = (
                    "an earlier call with the same code and arguments exists, but the "
                    "files of its result changed or were deleted since, or a task in it "
                    "changed its code"
                )
                yield job, None
                continue
            yield job, CacheHit(record.call_hash, record.result_hash, value)

    def _found_in_walked_trees(self, jobs: list[Job]) -> dict[str, CallRecord]:
        """The recorded calls of ``jobs`` known valid from a tree walked in this run."""
        known = self._valid_by_eval
        if not known:
            return {}
        found: dict[str, CallRecord] = {}
        for job in jobs:
            record = known.get(job.eval_hash)
            if record is not None and job.task.check_valid == "full":
                found[job.eval_hash] = record
        return found

    def _replay(self, job: Job, record: CallRecord, values: dict[str, Any]) -> Replay | None:
        assert record.expr_hash is not None
        why = self._why.get(record.call_hash) or "a call below it is no longer valid"
        recorded = values.get(record.expr_hash)
        if recorded is None or not hasattr(recorded, "restore"):
            problem = "its recorded expression is no longer stored"
        else:
            expr, problem = recorded.restore()
            if problem is None:
                return Replay(record.call_hash, expr, record.expr_hash, REPLAY_REASON_PREFIX + why)
        job.reason = (
            f"an earlier call with the same code and arguments exists, but {why}, and {problem}"
        )
        return None

    def _miss_reason(self, record: CallRecord, invalid: bool) -> str:
        prefix = "an earlier call with the same code and arguments exists, but "
        if not invalid:
            return prefix + "its result could not be loaded (no longer stored or unpicklable)"
        why = self._why.get(record.call_hash)
        return prefix + (why or "a call below it is no longer valid")

    def _task_hash(self, task_name: str) -> str | None:
        if task_name not in self._current_hash:
            task = self.registry.get(task_name)
            self._current_hash[task_name] = task.hash if task is not None else None
        return self._current_hash[task_name]

    def _is_shallow(self, task_name: str) -> bool:
        shallow = self._shallow.get(task_name)
        if shallow is None:
            task = self.registry.get(task_name)
            shallow = self._shallow[task_name] = task is not None and task.check_valid == "shallow"
        return shallow

    def _code_from_tree_checks(self, roots: list[str]) -> tuple[list[str], set[str]]:
        """For shallow roots: mark those whose stored verdict (any kind: each lists every
        task in the tree) says the code below is unchanged; the others, to walk, and the
        roots that had a verdict (a code-only one must not replace a full one)."""
        stored = self.backend.tree_checks(roots)
        if not stored:
            return roots, set()
        known = self._code_below
        for root, check in stored.items():
            shallow = check.shallow
            if shallow and CODE_BELOW_SHALLOW not in shallow and CODE_ONLY not in shallow:
                continue  # kept by an older version, which did not list the code below
            if all(self._task_hash(name) == task_hash for name, task_hash in check.tasks):
                known[root] = None
        return [root for root in roots if root not in known], set(stored)

    def _code_check(self, root: str, tree: dict[str, CallRecord]) -> TreeCheck:
        """A code-only verdict on ``root``: the tasks of every call recorded below it."""
        tasks: set[tuple[str, str]] = set()
        seen: set[str] = set()
        stack = [root]
        while stack:
            call_hash = stack.pop()
            record = tree.get(call_hash)
            if call_hash in seen or record is None:
                continue
            seen.add(call_hash)
            tasks.add((record.task_name, record.task_hash))
            stack.extend(record.child_call_hashes)
        return TreeCheck(list(tasks), [CODE_ONLY], [])

    def _judge_from_tree_checks(self, roots: list[str]) -> list[str]:
        """Mark valid the roots whose stored verdict still holds; the others, to walk."""
        stored = self.backend.tree_checks(roots)
        if not stored:
            return roots
        holding: dict[str, TreeCheck] = {}
        for root, check in stored.items():
            shallow = check.shallow
            if CODE_ONLY in shallow:
                continue  # a shallow lookup's verdict: says nothing of the files below
            if shallow and CODE_BELOW_SHALLOW not in shallow:
                continue  # kept by an older version, which did not list the code below
            if all(self._task_hash(name) == task_hash for name, task_hash in check.tasks) and all(
                name == CODE_BELOW_SHALLOW or self._is_shallow(name) for name in shallow
            ):
                holding[root] = check
        wanted = sorted({h for check in holding.values() for h in check.checks})
        values = self.backend.get_values(wanted) if wanted else {}
        valid = self._valid
        for root, check in holding.items():
            # A value that cannot be loaded: the walk decides.
            if all(h in values and value_is_valid(values[h]) for h in check.checks):
                valid[root] = True
        return [root for root in roots if root not in valid]

    def _tree_check(
        self,
        root: str,
        tree: dict[str, CallRecord],
        checks: set[str],
        file_args: dict[str, list[str]],
        budget: list[int],
    ) -> TreeCheck | None:
        """What ``root``, just found valid, rests on (None: too many values, not known, or
        more calls than ``budget[0]``, which it spends)."""
        tasks: set[tuple[str, str]] = set()
        shallow: set[str] = set()
        values: set[str] = set()
        seen: dict[str, bool] = {}  # call hash -> walked for its code only
        stack = [(root, False)]
        while stack:
            call_hash, code_only = stack.pop()
            if call_hash in seen and (code_only or not seen[call_hash]):
                continue
            seen[call_hash] = code_only
            budget[0] -= 1
            record = tree.get(call_hash)
            if record is None:
                if code_only:
                    continue  # not recorded below a shallow call: nothing to check
                return None
            if budget[0] < 0:
                return None
            tasks.add((record.task_name, record.task_hash))
            if not code_only:
                if record.result_hash in checks:
                    values.add(record.result_hash)
                values.update(file_args.get(call_hash, ()))
                if len(values) > MAX_TREE_CHECK_VALUES:
                    return None
                if call_hash != root and self._is_shallow(record.task_name):
                    # Below here, as in _judge_tree, only the code counts.
                    shallow.add(record.task_name)
                    code_only = True
            stack.extend((child, code_only) for child in record.child_call_hashes)
        if shallow:
            shallow.add(CODE_BELOW_SHALLOW)
        return TreeCheck(list(tasks), list(shallow), list(values))

    def _code_changed(self, call_hash: str, record: CallRecord) -> str | None:
        """Why ``record``'s task is not the version that made it (None: it is)."""
        current = self._task_hash(record.task_name)
        if current == record.task_hash:
            return None
        if current is None:
            return f"task {record.task_name} is no longer defined"
        return f"the code of task {record.task_name} changed since (call {call_hash[:8]})"

    def _judge_code_below(self, root: str, tree: dict[str, CallRecord]) -> str | None:
        """Why a call in ``root``'s recorded tree was made by another version of its task
        than the current one (None: none was). Calls not recorded have nothing to say."""
        known = self._code_below
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            call_hash, expanded = stack.pop()
            if call_hash in known:
                continue
            record = tree.get(call_hash)
            if record is None:
                known[call_hash] = None
                continue
            if not expanded:
                stack.append((call_hash, True))
                stack.extend((c, False) for c in record.child_call_hashes if c not in known)
                continue
            changed = self._code_changed(call_hash, record)
            if changed is None:
                for child in record.child_call_hashes:
                    changed = known.get(child)
                    if changed is not None:
                        break
            known[call_hash] = changed
        return known[root]

    def _judge_tree(self, roots: list[str], tree: dict[str, CallRecord]) -> None:
        """Set ``self._valid`` for every call in ``tree``, children before parents."""
        unknown = [r.result_hash for r in tree.values() if r.result_needs_check is None]
        checks = {r.result_hash for r in tree.values() if r.result_needs_check}
        if unknown:
            checks |= self.backend.values_needing_check(unknown)
        # Files passed as arguments anywhere below (e.g. made inside a cached task)
        # must still be as they were: an edit to one invalidates the calls above it.
        file_args = self.backend.checked_arguments(roots)
        for hashes in file_args.values():
            checks.update(hashes)
        check_values = self.backend.get_values(list(checks)) if checks else {}
        valid = self._valid
        why = self._why
        root_set = set(roots)
        for root in roots:
            stack: list[tuple[str, bool]] = [(root, False)]
            while stack:
                call_hash, expanded = stack.pop()
                if call_hash in valid:
                    continue
                record = tree.get(call_hash)
                if record is None:
                    valid[call_hash] = False
                    why[call_hash] = (
                        "a call below it was not recorded (prov=False, or an interrupted run)"
                    )
                    continue
                # A check_valid="shallow" call below stands for its subtree on its own
                # result and the code below it, as it would if it were looked up itself
                # (no_prov() relies on it).
                shallow = call_hash != root and self._is_shallow(record.task_name)
                if not expanded:
                    stack.append((call_hash, True))
                    if not shallow:
                        for child in record.child_call_hashes:
                            if child not in valid:
                                stack.append((child, False))
                    continue
                changed = self._code_changed(call_hash, record)
                ok = changed is None
                if changed is not None:
                    why[call_hash] = changed
                elif shallow and (changed := self._judge_code_below(call_hash, tree)):
                    ok = False
                    why[call_hash] = changed
                elif record.result_hash in check_values and not value_is_valid(
                    check_values[record.result_hash]
                ):
                    ok = False
                    why[call_hash] = (
                        f"files in the result of {record.task_name} (call {call_hash[:8]}) "
                        "changed or were deleted, or a task in it changed its code"
                    )
                elif any(
                    h in check_values and not value_is_valid(check_values[h])
                    for h in file_args.get(call_hash, ())
                ):
                    ok = False
                    why[call_hash] = (
                        f"files passed to {record.task_name} (call {call_hash[:8]}) "
                        "changed or were deleted, or a task in its arguments changed its code"
                    )
                else:
                    changed = self._reads.changed(record.context_reads)
                    if changed is not None:
                        ok = False
                        what = "the context" if changed == WHOLE else f"context {changed}"
                        why[call_hash] = (
                            f"{what}, read under {record.task_name} (call {call_hash[:8]}), changed"
                        )
                if ok and not shallow:
                    for child in record.child_call_hashes:
                        if not valid.get(child, False):
                            ok = False
                            why[call_hash] = why.get(child, "a call below it is not valid")
                            break
                if ok and not record.cacheable:
                    # Valid, but a cache=False call: below another call it runs every
                    # time; looked up itself (a cached call of the same task and
                    # arguments), it may be taken.
                    if call_hash in root_set:
                        self._valid_as_root.add(call_hash)
                    ok = False
                    why[call_hash] = (
                        f"task {record.task_name} has cache=False (call {call_hash[:8]}), "
                        "so it runs every time"
                    )
                valid[call_hash] = ok
                if ok and not shallow:
                    # (A shallow call was judged on its own result only: looked up
                    # itself, it gets the full check.)
                    self._valid_by_eval[record.eval_hash] = record
        self._keep_tree_checks(roots, tree, checks, file_args)

    def _keep_tree_checks(
        self,
        roots: list[str],
        tree: dict[str, CallRecord],
        checks: set[str],
        file_args: dict[str, list[str]],
    ) -> None:
        """Keep the verdicts on the roots just found valid, for later runs (module doc)."""
        valid = self._valid
        kept: dict[str, TreeCheck] = {}
        if any(record.context_reads != "" for record in tree.values()):
            return  # a verdict holds no context: the tree is walked each time
        if len(roots) == 1 and valid.get(roots[0], False):
            # One root (a workflow's main call): the tree is exactly what is below it, and
            # with no shallow task in it, the walk went everywhere and checked ``checks``.
            tasks = {(record.task_name, record.task_hash) for record in tree.values()}
            if not any(self._is_shallow(name) for name, _ in tasks):
                if len(checks) <= MAX_TREE_CHECK_VALUES:
                    kept[roots[0]] = TreeCheck(list(tasks), [], list(checks))
                    self.backend.remember_tree_checks(kept)
                return
        # Each root's own tree, within a few walks' worth of steps: many roots sharing
        # big subtrees get no verdict rather than cost more than the walk did.
        budget = [4 * len(tree) + 1000]
        for root in roots:
            if valid.get(root, False):
                check = self._tree_check(root, tree, checks, file_args, budget)
                if check is not None:
                    kept[root] = check
        if kept:
            self.backend.remember_tree_checks(kept)
