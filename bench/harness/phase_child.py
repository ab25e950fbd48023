"""Run ``redun ARGS`` as the console script does, timing each phase on the main thread.

Used by ``bench/phases.py``; not a public tool. Usage::

    python bench/harness/phase_child.py OUT.json redun-argument...

Time on the main thread is charged to the innermost active phase: an import
inside the config phase counts as ``imports``, a cache read inside scheduling
as ``cache reads``. Phases are entered by wrapping redun's own functions here
(the bench may; tests may not). Work on other threads (the recorder's) shows
only where the main thread waits for it (``recording``).

Written to OUT.json at exit (last ``atexit`` handler): the wall-clock time this
script started, the time ``main()`` returned, and seconds per phase.
"""

import time

_STARTED = time.time()

import atexit  # noqa: E402  (builtin: costs nothing to time)
import sys  # noqa: E402

_OUT = sys.argv[1]
_totals: dict = {}
_stack = ["other"]
_last = [time.perf_counter()]
_main_ident = None
_ended = [0.0]


def _switch(push=None):
    now = time.perf_counter()
    top = _stack[-1]
    _totals[top] = _totals.get(top, 0.0) + now - _last[0]
    _last[0] = now
    if push is None:
        _stack.pop()
    else:
        _stack.append(push)


def _on_main():
    import threading  # already imported by then, or cheap

    return threading.get_ident() == _main_ident


def _timed(phase, func):
    def wrapper(*args, **kwargs):
        if not _on_main():
            return func(*args, **kwargs)
        _switch(phase)
        try:
            return func(*args, **kwargs)
        finally:
            _switch()

    wrapper.__wrapped__ = func
    return wrapper


def _write():
    import json

    _switch()  # closes "exit": main() returned (the parent times the whole exit)
    _totals.pop("exit", None)
    with open(_OUT, "w") as out:
        json.dump({"started": _STARTED, "main_returned": _ended[0], "phases": _totals}, out)


atexit.register(_write)  # registered first: runs last

import _frozen_importlib  # noqa: E402
import _thread  # noqa: E402

_main_ident = _thread.get_ident()
_find_and_load = _frozen_importlib._find_and_load


def _timed_import(name, import_):
    if _thread.get_ident() != _main_ident:
        return _find_and_load(name, import_)
    _switch("imports")
    try:
        return _find_and_load(name, import_)
    finally:
        _switch()


_frozen_importlib._find_and_load = _timed_import
_switch("interpreter+site")  # nothing to charge: closes the "other" slot at ~0
_stack[:] = ["other"]
_totals.clear()

from redun.cli import main as cli_main  # noqa: E402


def _patch(module, name, phase):
    owner = sys.modules[module] if isinstance(module, str) else module
    setattr(owner, name, _timed(phase, getattr(owner, name)))


def main():
    argv = sys.argv[2:]
    code = 0
    try:
        _patch_lazily()
        sys.argv = ["redun", *argv]  # main() owns the process, as the console script
        code = cli_main.main()
    finally:
        _ended[0] = time.time()
        _switch("exit")
    sys.stdout.flush()
    sys.exit(code)


def _patch_lazily():
    """Wrap each function once its module is imported (by redun itself, in its phase)."""
    targets = {
        "redun.cli.cmd_run": [("import_workflow", "workflow import", None)],
        "redun.cli.setup": [("load_config", "config", None)],
        "redun.backends.db": [("load", "store open/schema check", "DbBackend")],
        "redun.codehash": [("hash_function_code", "code hashing", None)],
        "redun.scheduler.core": [
            ("run", "scheduling", "Scheduler"),
            ("stop", "recording", "Scheduler"),
            ("_check_cache", "cache checks", "Scheduler"),
        ],
        "redun.backends.recorder": [
            (name, "recording", "DbRecorder") for name in ("__init__", "__call__", "flush", "close")
        ],
    }
    _patch(cli_main, "build_parser", "argument parsing")
    done = set()

    def apply(name):
        module = sys.modules.get(name)
        if module is None or name in done:
            return
        done.add(name)
        for attr, phase, owner in targets[name]:
            holder = getattr(module, owner) if owner else module
            if hasattr(holder, attr):
                _patch(holder, attr, phase)

    for name in targets:
        apply(name)

    def hooked(name, import_):
        module = _timed_import(name, import_)
        if name in targets:
            apply(name)
        return module

    _frozen_importlib._find_and_load = hooked


if __name__ == "__main__":
    main()
