"""Errors of the clinical domain. Every message is written for a clinician.

    DomainError
    ├── ValidationError        a value is missing, malformed or implausible (names the field)
    │   └── AlreadyDoneError   the chart already is what the command asks (sync treats it as
    │                          converged, not as a conflict)
    ├── NotFoundError          the patient or item does not exist (or left the chart)
    ├── PreconditionError      the chart changed: what the command expected is no longer so
    ├── AllergyConflictError   prescribing against a recorded allergy without an override reason
    ├── DoubleBookingError     the clinician already has an appointment in that slot
    └── RoleError              the user's role may not run this command

Messages name fields and codes, never patient names or free text, so they are safe to log.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refused command; `field` names the offending input where there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    pass


class AlreadyDoneError(ValidationError):
    pass


class NotFoundError(DomainError):
    pass


class PreconditionError(DomainError):
    """The command expected a value that the chart no longer has (concurrent edit)."""

    def __init__(
        self, message: str, field: str | None = None, expected: object = None, actual: object = None
    ) -> None:
        super().__init__(message, field)
        self.expected = expected
        self.actual = actual


class AllergyConflictError(DomainError):
    def __init__(self, message: str, allergy_id: str) -> None:
        super().__init__(message, "override_reason")
        self.allergy_id = allergy_id


class DoubleBookingError(DomainError):
    def __init__(self, message: str, appointment_id: str) -> None:
        super().__init__(message, "start")
        self.appointment_id = appointment_id


class RoleError(DomainError):
    pass
