"""Reliability and security experiments (issue 6): each invariant of shared/DESIGN.md turned
into a repeatable, seeded experiment that yields figures.

Two sizes: the small one runs inside the normal test suite (tests/reliability/test_*.py); the
full one runs on demand and prints the table of figures:

    .venv/bin/python -m tests.reliability --full --json

docs/reliability.md explains every figure and records the last full run.
"""
