"""pytest fixtures of the twin, for every test suite of the project
(the root conftest.py loads them as a plugin)."""

from __future__ import annotations

import pytest

from . import storage


@pytest.fixture(scope="session")
def storage_twin_server():
    twin = storage.start()
    yield twin
    storage.stop(twin)


@pytest.fixture
def storage_twin(storage_twin_server):
    """The twin's Cloud Storage, emptied: no buckets, policies or custom roles."""
    storage_twin_server.reset()
    return storage_twin_server
