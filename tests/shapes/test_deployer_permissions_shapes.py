"""tests/test_deployer_permissions.py's properties over every environment shape (tests/shapes/conftest.py)."""

from tests import test_deployer_permissions
from tests.test_deployer_permissions import bootstrap  # noqa: F401 (the fixture its tests take)

from .conftest import property_tests

globals().update(property_tests(test_deployer_permissions))
