"""Fixtures every test suite of the project shares: the twin of Google's APIs."""

pytest_plugins = ["gcp_twin.fixtures"]
