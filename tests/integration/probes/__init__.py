"""Probe tests against real servers (a package, so test_http.py here and tests/unit/rules/test_http.py coexist)."""
