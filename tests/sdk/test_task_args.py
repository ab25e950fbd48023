"""Task arguments from a command line: the plain ``--name value`` reading and argparse agree.

A run's arguments are read without building an argparse parser when they are only
``--name value`` pairs (``_plain_pairs``); anything else goes to argparse. Writing
the same arguments as ``--name=value`` always takes argparse, so each case below is
parsed both ways and must give the same values, or the same error.
"""

from __future__ import annotations

import datetime
import enum
import types
from collections.abc import Callable

import pytest

from redun import task
from redun.errors import UsageError
from redun.workflow.args import _params, _plain_pairs, parse_task_args


class Color(enum.Enum):
    red = 1
    green = 2


@task(name="args_main", namespace="test_task_args")
def args_main(
    n: int,
    some_name: str = "a",
    flag: bool = False,
    items: list[str] | None = None,
    color: Color = Color.red,
    ratio: float = 1.0,
    table: dict | None = None,
) -> tuple:
    return (n, some_name, flag, items, color, ratio, table)


def _equals_form(argv: list[str]) -> list[str]:
    """``--name value`` pairs as ``--name=value`` (argparse's road)."""
    return [f"{argv[i]}={argv[i + 1]}" for i in range(0, len(argv), 2)]


def _outcome(argv: list[str], **options: object) -> object:
    try:
        return parse_task_args(args_main, argv, **options)  # type: ignore[arg-type]
    except UsageError as error:
        return ("UsageError", str(error))


@pytest.mark.parametrize(
    "argv",
    [
        ["--n", "3"],
        ["--n", "3", "--some_name", "b", "--flag", "yes", "--color", "green"],
        ["--n", "3", "--some-name", "b"],
        ["--ratio", "1e3", "--n", "0"],
        ["--n", "3", "--table", '{"a": 1}'],
        ["--n", "abc"],
        ["--n", "3", "--color", "blue"],
        ["--n", "3", "--flag", "maybe"],
        ["--some_name", "x"],
    ],
)
def test_plain_pairs_read_as_argparse_reads_them(argv: list[str]) -> None:
    assert _plain_pairs(_params(args_main), argv) is not None
    assert _outcome(argv) == _outcome(_equals_form(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["--n", "-3"],  # a value that looks like an option
        ["--n", "3", "--n", "5"],  # given twice: the last wins
        ["--n", "3", "--items", "a", "b"],  # a list
        ["--n=3"],
        ["-h"],
        ["--na", "3"],  # an abbreviation
        ["--n", "3", "--bogus", "1"],  # argparse names what it does not know
    ],
)
def test_anything_else_goes_to_argparse(argv: list[str]) -> None:
    assert _plain_pairs(_params(args_main), argv) is None


def test_argparse_cases_still_parse() -> None:
    assert parse_task_args(args_main, ["--n", "-3"])["n"] == -3
    assert parse_task_args(args_main, ["--n", "3", "--n", "5"])["n"] == 5
    assert parse_task_args(args_main, ["--n", "3", "--items", "a", "b"])["items"] == ["a", "b"]


def test_required_and_given_arguments() -> None:
    with pytest.raises(UsageError, match="needs --n"):
        parse_task_args(args_main, ["--flag", "true"])
    assert parse_task_args(args_main, ["--flag", "true"], given=["n"]) == {"flag": True}
    assert parse_task_args(args_main, [], required=False) == {}


@task(name="when_main", namespace="test_task_args")
def when_main(
    at: datetime.datetime, day: datetime.date | None = None, clock: datetime.time | None = None
) -> tuple:
    return (at, day, clock)


def test_dates_and_times_parse_as_iso_8601() -> None:
    parsed = parse_task_args(
        when_main, ["--at", "2022-07-01 10:05:33 +0400", "--day", "2021-02-03", "--clock", "07:30"]
    )
    four_hours = datetime.timezone(datetime.timedelta(hours=4))
    assert parsed == {
        "at": datetime.datetime(2022, 7, 1, 10, 5, 33, tzinfo=four_hours),
        "day": datetime.date(2021, 2, 3),
        "clock": datetime.time(7, 30),
    }
    assert parse_task_args(when_main, ["--at", "2022-07-01"])["at"] == datetime.datetime(2022, 7, 1)
    with pytest.raises(UsageError, match="expected an ISO 8601 datetime"):
        parse_task_args(when_main, ["--at", "yesterday"])


def test_the_type_registry_parses_what_the_command_line_does() -> None:
    # redun's TypeRegistry.parse_arg, which tools and tests call directly.
    from redun.value import get_type_registry

    registry = get_type_registry()
    assert registry.parse_arg(bool, "False") is False and registry.parse_arg(bool, "True") is True
    assert registry.parse_arg(Color, "green") is Color.green
    with pytest.raises(ValueError, match="choose from red, green"):
        registry.parse_arg(Color, "brown")
    assert registry.parse_arg(datetime.datetime, "2022-07-01 10:05:33") == datetime.datetime(
        2022, 7, 1, 10, 5, 33
    )
    assert registry.parse_arg(int, "10") == 10 and registry.parse_arg(complex, "1+2j") == 1 + 2j


def test_functions_parse_by_dotted_name() -> None:
    import os.path
    import types

    from redun.value import get_type_registry

    registry = get_type_registry()
    assert registry.parse_arg(types.FunctionType, "os.path.join") is os.path.join
    with pytest.raises(ValueError, match="Unexpected format for function name: join"):
        registry.parse_arg(types.FunctionType, "join")
    with pytest.raises(ValueError, match="Function not found: no_such_module.f"):
        registry.parse_arg(types.FunctionType, "no_such_module.f")


@task(name="apply_main", namespace="test_task_args")
def apply_main(func: Callable[[str, str], str], plain: types.FunctionType | None = None) -> str:
    return func("a", "b")


def test_function_arguments_from_the_command_line() -> None:
    import os.path

    parsed = parse_task_args(apply_main, ["--func", "os.path.join", "--plain", "os.path.basename"])
    assert parsed == {"func": os.path.join, "plain": os.path.basename}
    with pytest.raises(UsageError, match="Function not found: os.path.nope"):
        parse_task_args(apply_main, ["--func", "os.path.nope"])


def test_bad_values_are_named_in_argparse_s_words() -> None:
    with pytest.raises(UsageError, match=r"argument --n: invalid int value: 'abc'"):
        parse_task_args(args_main, ["--n", "abc"])
    with pytest.raises(UsageError, match=r"argument --color: invalid Color value: 'blue'"):
        parse_task_args(args_main, ["--n", "3", "--color", "blue"])
    with pytest.raises(UsageError, match=r"argument --func: invalid function value: 'x.nope'"):
        parse_task_args(apply_main, ["--func", "x.nope"])
