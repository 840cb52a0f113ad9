"""Errors of the FHIR mapping layer: a server resource that cannot become domain data.

    MappingError                    base class; `resource` ("Type/id") and `element` say where
    ├── MalformedResourceError      breaks FHIR or the resource's own structure: wrong
    │                               resourceType, missing subject, a date that is not a date,
    │                               a reference to the wrong resource type, bad base64
    └── UnsupportedResourceError    valid FHIR that a kind's reader does not model: a
                                    laboratory Observation, a note only as a PDF, a unit it
                                    cannot convert, a value the chart needs but is not there

Messages name the resource type and id and the element, never a value (no names, codes or
free text), so they are safe to log. `from_fhir_resource` reads an unsupported resource about
one of our patients as a read-only "other" record (other_record.py,
docs/clinical/other-records.md); what is left (malformed, no patient, FieldChart's own resource
unreadable) the pull quarantines for IT.
"""

from __future__ import annotations


class MappingError(Exception):
    """A server resource cannot be mapped; says which resource and which element."""

    def __init__(self, resource: str, element: str, problem: str) -> None:
        super().__init__(f"{resource}: {element} {problem}")
        self.resource = resource
        self.element = element
        self.problem = problem


class MalformedResourceError(MappingError):
    """The resource breaks FHIR or its own structure."""


class UnsupportedResourceError(MappingError):
    """Valid FHIR that FieldChart does not show."""
