"""Reading a back end's ``[executors.NAME]`` numbers: one rule and one wording for all."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redun.errors import UsageError


def number_option(section: str, config: Mapping[str, Any], key: str, kind: type) -> Any:
    """``config[key]`` as a ``kind`` (int or float); None when unset or empty.

    Raises:
        UsageError: not a number, or negative (naming ``section``, the key and the value).
    """
    value = config.get(key)
    if value is None or str(value).strip() == "":
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"{section} {key} = {value!r} is not a number") from None
    if number < 0:
        raise UsageError(f"{section} {key} = {value!r} must not be negative")
    return number
