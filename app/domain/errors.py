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

from app.domain.wording import Text, as_text


class DomainError(Exception):
    """A refused command; `field` names the offending input where there is one.

    `text` is the message to show, rendered in the user's language by the desktop and the
    command line (app/i18n.say); `message` and `str()` are its English sentence (logs, tests).
    """

    def __init__(self, message: str | Text, field: str | None = None) -> None:
        self.text = as_text(message)
        self.message = str(self.text)
        super().__init__(self.message)
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
        self,
        message: str | Text,
        field: str | None = None,
        expected: object = None,
        actual: object = None,
    ) -> None:
        super().__init__(message, field)
        self.expected = expected
        self.actual = actual


class AllergyConflictError(DomainError):
    def __init__(self, message: str | Text, allergy_id: str) -> None:
        super().__init__(message, "override_reason")
        self.allergy_id = allergy_id


class DoubleBookingError(DomainError):
    def __init__(self, message: str | Text, appointment_id: str) -> None:
        super().__init__(message, "start")
        self.appointment_id = appointment_id


class RoleError(DomainError):
    pass
