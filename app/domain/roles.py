"""Who may do what: the three roles and the acting user."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    CLINICIAN = "clinician"
    STAFF = "staff"
    ADMIN = "admin"


@dataclass(frozen=True)
class Actor:
    """The unlocked user on whose behalf a command runs."""

    user: str
    role: Role
