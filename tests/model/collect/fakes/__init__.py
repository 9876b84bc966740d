"""Test doubles shared by the test suites (e.g. the fake Street View server)."""
