"""Reviewed snapshots of every synthesized stack: any drift shows up as a diff.

Update only after reading the diff: `make test PYTEST_ARGS=--snapshot-update`
(see README, Tests).
"""

from __future__ import annotations

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from platform_config import DEFAULT_CONFIG, load_platform, stack_names

# Every stack of every configured environment: a new one gets a snapshot to review.
STACKS = stack_names(load_platform(DEFAULT_CONFIG).environments)


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_default_configuration_synthesizes_exactly_these_stacks(stacks):
    assert sorted(stacks) == sorted(STACKS)


@pytest.mark.parametrize("name", STACKS)
def test_stack_snapshot(stacks, name, snapshot_json):
    assert stacks[name] == snapshot_json
