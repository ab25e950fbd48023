"""Validation before anything runs: run specs, listen addresses, tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from redund.auth import is_loopback, parse_tcp, token_matches
from redund.errors import InvalidRequest, NotFoundError, StartError
from redund.model import RunSpec
from redund.spec import validate


def test_relative_paths_resolve_against_the_working_dir(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text("")
    spec = validate(RunSpec("flow.py", "main", working_dir=str(tmp_path)))
    assert spec.workflow_path == str(tmp_path / "flow.py")
    spec = validate(RunSpec(str(tmp_path / "flow.py"), "main"))
    assert spec.working_dir == str(tmp_path)


@pytest.mark.parametrize(
    ("spec", "error", "message"),
    [
        (RunSpec("flow.py", "main"), InvalidRequest, "needs working_dir"),
        (RunSpec("/nope/flow.py", "main"), NotFoundError, "workflow file not found: /nope/flow.py"),
        (
            RunSpec("flow.py", "main", working_dir="/nope"),
            NotFoundError,
            "working directory not found",
        ),
        (RunSpec("flow.py", "main", working_dir="rel"), InvalidRequest, "must be absolute"),
        (RunSpec("pkg.flow", "main"), InvalidRequest, "needs working_dir"),
    ],
)
def test_bad_paths(spec: RunSpec, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        validate(spec)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"options": {"max_workers": "0"}}, "max_workers must be an integer >= 1"),
        ({"options": {"context": "[]"}}, "context must be a JSON object"),
        ({"options": {"poll_interval": "0"}}, "poll_interval must be a number of seconds > 0"),
        ({"options": {"poll_interval": "soon"}}, "poll_interval must be a number .* 'soon'"),
        ({"options": {"nope": "1"}}, "unknown option"),
        ({"kwargs_json": "{"}, "not valid JSON"),
        ({"kwargs_json": '{"x": 1}', "args": {"x": "2"}}, "given both"),
        ({"args": {"-x": "1"}}, "bad argument name"),
    ],
)
def test_bad_fields(tmp_path: Path, changes: dict, message: str) -> None:
    (tmp_path / "flow.py").write_text("")
    spec = RunSpec(str(tmp_path / "flow.py"), "main", **changes)
    with pytest.raises(InvalidRequest, match=message):
        validate(spec)


def test_listen_rules() -> None:
    assert parse_tcp("127.0.0.1:0").port == 0
    assert parse_tcp("[::1]:5000").host == "::1"
    assert is_loopback("localhost")
    for text in ("0.0.0.0:1", "10.1.2.3:1"):
        with pytest.raises(StartError, match="refusing to listen") as caught:
            parse_tcp(text)
        assert caught.value.usage
    with pytest.raises(StartError, match="both --tls-cert and --tls-key"):
        parse_tcp("0.0.0.0:1", tls_cert="cert.pem")
    with pytest.raises(StartError, match="port must be"):
        parse_tcp("127.0.0.1:http")


def test_token_check() -> None:
    assert token_matches((("authorization", "Bearer s3cret"),), "s3cret")
    assert token_matches((("Authorization", b"bearer s3cret"),), "s3cret")
    assert not token_matches((("authorization", "Bearer wrong"),), "s3cret")
    assert not token_matches((), "s3cret")
