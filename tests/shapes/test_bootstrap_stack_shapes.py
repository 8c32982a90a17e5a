"""tests/test_bootstrap_stack.py's properties over every environment shape (tests/shapes/conftest.py)."""

from tests import test_bootstrap_stack
from tests.test_bootstrap_stack import stack  # noqa: F401 (the fixture its tests take)

from .conftest import property_tests

globals().update(property_tests(test_bootstrap_stack))
