"""One twin per test session, emptied before each test."""

from __future__ import annotations

import pytest

import gcp_twin


@pytest.fixture(scope="session")
def storage_twin_server():
    twin = gcp_twin.start()
    yield twin
    gcp_twin.stop(twin)


@pytest.fixture
def storage_twin(storage_twin_server):
    storage_twin_server.reset()
    return storage_twin_server
