"""The benchmark's inputs stay valid (the benchmark itself is not a test: no
test here fails on a clock)."""

from __future__ import annotations

import pytest

from bench.run import SCALING_SIZES, generated_config
from platform_config import parse_platform


@pytest.mark.parametrize("size", SCALING_SIZES)
def test_generated_configurations_are_valid(size):
    platform = parse_platform(generated_config(size))
    assert len(platform.services) == size
    assert len({s.image for s in platform.services}) == size
