"""The emulators every GCP Batch test needs: GCS (with the scratch bucket) and BatchService."""

from __future__ import annotations

import pytest

from tests.cloud import apply_env, gcs_env

from .helpers import BUCKET


@pytest.fixture
def gcs_scratch(gcs_emulator, monkeypatch):
    """The GCS emulator, wiped, with the scratch bucket; the environment points at it."""
    from google.cloud import storage

    from redun.file.filesystem import get_filesystem

    gcs_emulator.wipe()
    apply_env(monkeypatch, gcs_env(gcs_emulator.url))
    get_filesystem(proto="gs").reset_client()
    storage.Client().create_bucket(BUCKET)
    yield gcs_emulator
    get_filesystem(proto="gs").reset_client()
