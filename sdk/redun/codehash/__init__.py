"""Transitive code hashing: what a task's code hash covers.

:func:`hash_function_code` returns a :class:`CodeHash`: one digest plus the
labelled parts it was made of, so ``redun explain`` can say *which* piece of
code changed. The digest is the hash of the sorted ``(label, digest)`` pairs.

What counts
-----------
``source``
    The function itself, as a normalized AST: ``inspect``-style source lookup,
    ``textwrap.dedent``, ``ast.parse``, the function's own decorators dropped
    (the ``@task(...)`` options are hashed by the task), the docstrings of
    every function and class in it dropped, then ``ast.dump`` without line
    numbers. Comments, docstrings, blank lines and formatting do not count;
    any change to the code does. Without source (a lambda typed at a REPL,
    code built with ``exec``) the bytecode counts instead (``co_code``,
    ``co_consts``, ``co_names``, recursively for nested code).
``helper:mod.qualname``
    A function defined in a *user* module that the code references, by its
    normalized source; its own references are followed in turn (helpers of
    helpers, across user modules, through ``import helpers; helpers.f()`` and
    ``from helpers import f`` alike). Mutual recursion terminates.
``class:mod.qualname``
    A class defined in a user module: its whole body (all methods, class
    decorators kept, docstrings dropped). References made by its methods, its
    user base classes and its user metaclass are followed.
``const:mod.NAME``
    A module-level value the code references (numbers, strings, tuples,
    lists, dicts, sets, enums, compiled regexes, dataclasses, instances of
    user classes, ...) by :func:`redun.hashing.hash_value`. Instances of
    standard-library or third-party classes that are not plain data (a
    logger, a lock, a database engine) count by type name only, as does any
    value that cannot be hashed.
``closure:name``
    A value captured in a closure cell of the function (handled like a global:
    functions become helpers, other values count by value), except a list,
    dict, set or bytearray: captured from an enclosing function, that is state
    the code fills in (``calls.append(...)``), so only its type counts.
``package:distname``
    An installed distribution whose module, function or class the code
    references; the value is the distribution's version, not a digest.

Names are found in the code object's ``co_names`` (and those of nested code
objects: comprehensions, inner functions, lambdas), in the names used by the
function's default-argument expressions, and resolved in the function's
``__globals__``; attribute names (``helpers.f``) are resolved on the user
modules the code references.

What does not count
-------------------
* Other tasks (any object whose type has a truthy ``_redun_task``): calls
  between tasks are tracked by the scheduler, not by code hashing.
* The standard library and built-ins.
* redun itself (``redun``, ``redund``, ``redun_tui``).
* Code reached only dynamically (``getattr(mod, name)`` with a computed
  name, ``importlib.import_module``), and values read from files.
* A global reassigned after the function was first hashed: results are cached
  per function object (and normalized source per code object), so a
  10,000-job run hashes each task once.

Because ``co_names`` also holds attribute names, a global that happens to
share a name with an attribute the code uses (``df.count()`` and a module-
level ``count``) is included too. That costs a spurious re-run at worst, never
a stale cache hit.

A *user* module is one whose file is not in the site-packages directories,
the standard library, or what the interpreter installed under ``sys.prefix``,
``sys.base_prefix`` and ``sys.exec_prefix`` (their ``lib``, ``bin``,
``include``, ``share``... directories), and that is not part of redun;
``__main__`` is a user module.

Modules
-------
* :mod:`.model`: :class:`CodeHash` and :func:`hash_function_code`.
* :mod:`.walk`: the transitive walk from a function to what it references.
* :mod:`.source`: normalized function source (:func:`normalized_source`).
* :mod:`.classes`: class bodies.
* :mod:`.modules`: user module, standard library, installed package and
  distribution version classification (:func:`is_user_module`).
* :mod:`.cache`: identity caches and :func:`clear_caches`.
"""

from redun.codehash.cache import clear_caches
from redun.codehash.model import CodeHash, hash_function_code
from redun.codehash.modules import is_user_module
from redun.codehash.source import normalized_source

__all__ = ["CodeHash", "clear_caches", "hash_function_code", "is_user_module", "normalized_source"]
