"""Opening the Batch client, and translating google-api-core's errors at the boundary.

With ``endpoint = HOST:PORT`` (an emulator on a loopback address) the client
talks plaintext gRPC through an insecure channel, with no credentials; a
``client_options={"api_endpoint": ...}`` alone would open TLS and retry for a
minute. Otherwise it uses Application Default Credentials.
"""

from __future__ import annotations

from typing import Any

from redun.errors import ExecutorError, UsageError
from redun.executors.gcp_batch.settings import GcpSettings

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
NO_CREDENTIALS = (
    "no Google Cloud credentials found; set GOOGLE_APPLICATION_CREDENTIALS to a service "
    "account key file, run 'gcloud auth application-default login', or run where a service "
    "account is attached (or set endpoint = 127.0.0.1:PORT for an emulator)"
)


def import_batch() -> Any:
    """``google.cloud.batch_v1``, or a UsageError saying what to install."""
    try:
        from google.cloud import batch_v1
    except ImportError as exc:
        raise UsageError(
            f"the gcp_batch executor needs google-cloud-batch ({exc}): pip install 'redun[gcp]'"
        ) from exc
    return batch_v1


def make_client(settings: GcpSettings, credentials: Any) -> tuple[Any, Any]:
    """``(client, channel)``: a ``BatchServiceClient``; the channel to close (emulator) or None.

    Raises:
        UsageError: google-cloud-batch is missing.
    """
    batch_v1 = import_batch()
    if settings.endpoint:
        import grpc
        from google.cloud.batch_v1.services.batch_service.transports import (
            BatchServiceGrpcTransport,
        )

        channel = grpc.insecure_channel(settings.endpoint)
        return batch_v1.BatchServiceClient(transport=BatchServiceGrpcTransport(channel=channel)), (
            channel
        )
    return batch_v1.BatchServiceClient(credentials=credentials), None


def default_credentials(section: str) -> Any:
    """Application Default Credentials, or a UsageError saying how to provide them."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _ = google.auth.default(scopes=list(SCOPES))
    except DefaultCredentialsError as exc:
        raise UsageError(f"{section}: {NO_CREDENTIALS}") from exc
    return credentials


def translate(error: BaseException, doing: str) -> ExecutorError:
    """An ExecutorError for a google-api-core (or gRPC) error met while ``doing`` something."""
    if isinstance(error, ExecutorError):
        return error
    kind = type(error).__name__
    code = getattr(error, "code", None)
    status = code if isinstance(code, int) else None
    message = str(getattr(error, "message", "") or error).strip()
    if kind in ("DefaultCredentialsError",):
        hint = NO_CREDENTIALS
    elif kind == "RefreshError":
        hint = f"the credentials were refused ({message}); refresh or replace them"
    elif status in (401, 403) or kind in ("PermissionDenied", "Unauthenticated", "Forbidden"):
        hint = (
            f"permission denied ({message}); the credentials need the Batch Job Editor role "
            "(roles/batch.jobsEditor) on the project, and Service Account User on the jobs' "
            "service account"
        )
    elif status == 400 or kind == "InvalidArgument":
        hint = f"Batch refused the request: {message}"
    elif status == 404 or kind == "NotFound":
        hint = f"not found ({message}); check project and region"
    elif status == 429 or kind == "ResourceExhausted":
        hint = f"a quota is exhausted ({message})"
    elif kind in ("RetryError", "DeadlineExceeded", "ServiceUnavailable") or status in (503, 504):
        hint = f"GCP Batch did not answer in time ({message})"
    else:
        hint = f"{kind}: {message}"
    translated = ExecutorError(f"{doing}: {hint}")
    translated.__cause__ = error
    return translated
