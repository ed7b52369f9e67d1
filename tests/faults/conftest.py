"""Hostile suites are data for test_hostile_suites.py, not suites for evalkit's pytest plugin to run."""

collect_ignore_glob = ["*.yaml", "*.yml"]
