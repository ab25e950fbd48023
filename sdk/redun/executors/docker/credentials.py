"""Which of the scheduler's cloud settings a container borrows, without writing secrets down.

Variables go by name (``-e NAME``): docker copies each value from its own
environment, so no secret appears on a command line, in ``ps``, in a log
or in an error message. A credentials file named by
``GOOGLE_APPLICATION_CREDENTIALS`` is mounted read-only at the same path.
When the scratch is on S3 and no AWS keys are in the environment (a
profile, SSO, an instance role), boto3 resolves them once, at start, into
docker's environment only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from redun.executors.docker.settings import DockerSettings, Volume

logger = logging.getLogger("redun.docker")

AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)
GCP_VARIABLES = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "CLOUDSDK_CORE_PROJECT",
    "STORAGE_EMULATOR_HOST",
)


@dataclass(frozen=True)
class Borrowed:
    """What containers get: variable names, docker's environment, and files to mount."""

    names: tuple[str, ...] = ()
    docker_env: dict[str, str] = field(default_factory=dict)
    mounts: tuple[Volume, ...] = ()


def borrow(
    settings: DockerSettings, scratch_root: str, environ: Mapping[str, str] = os.environ
) -> Borrowed:
    """The cloud variables to pass (those set), resolving AWS keys when an S3 scratch needs them."""
    env = dict(environ)
    names: list[str] = []
    mounts: list[Volume] = []
    if settings.include_aws_env:
        if not env.get("AWS_ACCESS_KEY_ID") and (
            scratch_root.startswith("s3://") or env.get("AWS_PROFILE")
        ):
            env.update(_resolved_aws_keys())
        names += [name for name in AWS_VARIABLES if env.get(name)]
    if settings.include_gcp_env:
        names += [name for name in GCP_VARIABLES if env.get(name)]
        key_file = env.get("GOOGLE_APPLICATION_CREDENTIALS", "")
        if key_file and os.path.isfile(key_file):
            path = os.path.abspath(key_file)
            mounts.append(Volume(path, path, "ro"))
    return Borrowed(tuple(names), env, tuple(mounts))


def _resolved_aws_keys() -> dict[str, str]:
    """The keys boto3 finds (profile, SSO, role), or none; never logged."""
    try:
        import boto3
    except ImportError:
        return {}
    try:
        session = boto3.Session()
        credentials = session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
    except Exception as error:  # a broken profile: the container will say what is missing
        logger.warning("cannot resolve AWS credentials for docker containers: %s", error)
        return {}
    if frozen is None or not frozen.access_key:
        return {}
    found = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
    if frozen.token:
        found["AWS_SESSION_TOKEN"] = frozen.token
    if session.region_name:
        found["AWS_DEFAULT_REGION"] = session.region_name
    return found
