"""Opening boto3 clients, and translating botocore's errors at the boundary.

Throttling is botocore's job: every client is made with its retry mode
(``adaptive`` by default: exponential backoff with jitter plus a client-side
rate limiter) and ``max_attempts``; nothing here loops by hand. The
endpoint comes from boto3's own configuration (``AWS_ENDPOINT_URL``, a
profile's ``endpoint_url``), which is how tests reach moto's server.
"""

from __future__ import annotations

from typing import Any

from redun.errors import ExecutorError, UsageError
from redun.executors.aws_batch.settings import AwsSettings

NO_CREDENTIALS = (
    "no AWS credentials found; set AWS_PROFILE (a profile of ~/.aws/config), "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where an instance or task role "
    "is attached"
)
NO_REGION = (
    "no AWS region; set region = REGION in the section (e.g. us-west-2), or AWS_DEFAULT_REGION"
)


def import_boto3() -> Any:
    """``boto3``, or a UsageError saying what to install."""
    try:
        import boto3
    except ImportError as exc:
        raise UsageError(
            f"the aws_batch executor needs boto3 ({exc}): pip install 'redun[aws]'"
        ) from exc
    return boto3


def make_session(settings: AwsSettings, section: str) -> Any:
    """A boto3 session with credentials and a region, or a UsageError saying what to set."""
    boto3 = import_boto3()
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.session.Session(region_name=settings.region or None)
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        raise UsageError(f"{section}: reading the AWS configuration failed: {exc}") from exc
    if credentials is None:
        raise UsageError(f"{section}: {NO_CREDENTIALS}")
    if not session.region_name:
        raise UsageError(f"{section}: {NO_REGION}")
    return session


def make_client(session: Any, service: str, settings: AwsSettings) -> Any:
    """A client of ``service`` with botocore's retry mode for throttling and transient errors."""
    from botocore.config import Config

    config = Config(
        retries={"mode": settings.retry_mode, "max_attempts": settings.max_attempts},
        max_pool_connections=32,
    )
    return session.client(service, config=config)


def error_code(error: BaseException | None) -> str:
    """The AWS error code of a botocore ClientError ("" for anything else)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str((response.get("Error") or {}).get("Code") or "")
    return ""


def translate(error: BaseException, doing: str) -> ExecutorError:
    """An ExecutorError for a botocore error met while ``doing`` something."""
    if isinstance(error, ExecutorError):
        return error
    kind = type(error).__name__
    code = error_code(error)
    message = str(((getattr(error, "response", None) or {}).get("Error") or {}).get("Message", ""))
    message = message or str(error)
    if kind in ("NoCredentialsError", "PartialCredentialsError"):
        hint = NO_CREDENTIALS
    elif code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
        hint = (
            f"permission denied ({message}); the credentials need batch:SubmitJob, "
            "batch:DescribeJobs, batch:ListJobs, batch:TerminateJob, batch:RegisterJobDefinition, "
            "batch:DescribeJobDefinitions, batch:TagResource and logs:GetLogEvents"
        )
    elif code in ("ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException"):
        hint = f"the credentials were refused ({message}); refresh or replace them"
    elif code in ("ThrottlingException", "TooManyRequestsException"):
        hint = f"AWS kept throttling after the client's retries ({message})"
    elif code in ("ClientException", "ValidationException", "InvalidParameterValueException"):
        hint = f"AWS Batch refused the request: {message}"
    elif kind in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
        hint = f"AWS did not answer ({error})"
    else:
        hint = f"{code or kind}: {message}"
    translated = ExecutorError(f"{doing}: {hint}")
    translated.__cause__ = error
    return translated
