"""Errors of the command line itself.

CliError
└── UsageError   bad arguments or missing input (exit code 2)
"""

from __future__ import annotations


class CliError(Exception):
    exit_code = 1


class UsageError(CliError):
    exit_code = 2
