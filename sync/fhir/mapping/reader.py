"""`Reader`: reads one server resource strictly, and names the element when it is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from sync.fhir.mapping.common import FHIR_ID, entered_in_error_marker, parse_reference
from sync.fhir.mapping.errors import MalformedResourceError, UnsupportedResourceError
from sync.fhir.mapping.times import domain_instant, is_partial_date, parse_instant

_INFINITY = float("inf")


class Reader:
    """Reads one server resource strictly; every failure names the resource and element."""

    def __init__(self, resource: object, resource_type: str) -> None:
        if not isinstance(resource, Mapping):
            raise MalformedResourceError(f"{resource_type}/?", "resource", "is not a JSON object")
        self.resource: Mapping[str, Any] = resource
        raw_id = resource.get("id")
        self.id = raw_id if isinstance(raw_id, str) and FHIR_ID.fullmatch(raw_id) else ""
        self.name = f"{resource_type}/{self.id or '?'}"
        if resource.get("resourceType") != resource_type:
            self.fail("resourceType", f"is not {resource_type}")
        if not self.id:
            self.fail("id", "is missing or not a FHIR id")

    def fail(self, element: str, problem: str) -> NoReturn:
        raise MalformedResourceError(self.name, element, problem)

    def unsupported(self, element: str, problem: str) -> NoReturn:
        raise UnsupportedResourceError(self.name, element, problem)

    @property
    def version_id(self) -> str | None:
        meta = self.resource.get("meta")
        version = meta.get("versionId") if isinstance(meta, Mapping) else None
        return version if isinstance(version, str) else None

    def obj(self, value: Any, element: str) -> Mapping[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(element, "is not an object")
        return value

    def array(self, value: Any, element: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(element, "is not an array")
        return value

    def string(self, value: Any, element: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(element, "is not a non-empty string")
        return value

    def number(self, value: Any, element: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(element, "is not a number")
        try:
            result = float(value)
        except OverflowError:  # an integer of hundreds of digits
            self.fail(element, "is not a number in range")
        if result != result or result in (_INFINITY, -_INFINITY):  # JSON NaN/Infinity: not FHIR
            self.fail(element, "is not a number")
        return result

    def code(self, value: Any, element: str, allowed: frozenset[str]) -> str | None:
        text = self.string(value, element)
        if text is not None and text not in allowed:
            self.fail(element, "is not a code of its value set")
        return text

    def date_time(self, value: Any, element: str) -> str | None:
        """A dateTime in the domain's form; partial dates (2020, 2020-03) are kept as they are."""
        text = self.string(value, element)
        if text is None:
            return None
        parsed = parse_instant(text)
        if parsed is not None:
            return domain_instant(parsed)
        if is_partial_date(text):
            return text
        self.fail(element, "is not a FHIR dateTime")

    def instant(self, value: Any, element: str) -> str | None:
        """An instant (date, time and offset) in the domain's form."""
        text = self.string(value, element)
        if text is None:
            return None
        parsed = parse_instant(text)
        if parsed is None:
            self.fail(element, "is not a FHIR instant (date, time and offset)")
        return domain_instant(parsed)

    def date(self, value: Any, element: str) -> str | None:
        text = self.string(value, element)
        if text is not None and not is_partial_date(text):
            self.fail(element, "is not a FHIR date")
        return text

    def reference(self, value: Any, element: str, resource_type: str) -> str | None:
        """The id a Reference points to; it must be a literal reference to `resource_type`."""
        ref = self.obj(value, element)
        if ref is None:
            return None
        raw = self.string(ref.get("reference"), f"{element}.reference")
        if raw is None:
            self.unsupported(f"{element}.reference", "is missing (only logical references)")
        parsed = parse_reference(raw)
        if parsed is None:
            self.fail(f"{element}.reference", "is not a literal reference")
        if parsed[0] != resource_type:
            self.fail(f"{element}.reference", f"must point to {resource_type}")
        return parsed[1]

    def patient(self, value: Any, element: str = "subject") -> str:
        """The patient the resource belongs to (required)."""
        found = self.reference(value, element, "Patient")
        if found is None:
            self.fail(element, "is missing")
        return found

    def recorded(self, value: Any, element: str) -> str:
        """When something was recorded; falls back to the server's meta.lastUpdated."""
        found = self.date_time(value, element)
        if found is not None:
            return found
        meta = self.obj(self.resource.get("meta"), "meta")
        fallback = self.instant(meta.get("lastUpdated"), "meta.lastUpdated") if meta else None
        if fallback is None:
            self.unsupported(element, "is missing")
        return fallback

    def concept(self, value: Any, element: str) -> Mapping[str, Any] | None:
        concept = self.obj(value, element)
        if concept is not None:
            for i, c in enumerate(self.array(concept.get("coding"), f"{element}.coding")):
                self.obj(c, f"{element}.coding[{i}]")
        return concept

    def marker(self) -> tuple[str | None, str | None]:
        return entered_in_error_marker(self.resource)

    def status(
        self, code: str, equivalents: Mapping[str, str], error_code: str, inferred: str
    ) -> tuple[str, bool, dict[str, Any]]:
        """(domain status, entered in error, extra data) for a server status code. An
        entered-in-error resource gets back the status our extension recorded, else
        `inferred`."""
        if code != error_code:
            return equivalents.get(code, code), False, {}
        before, reason = self.marker()
        return before or inferred, True, {"entered_in_error_reason": reason}

    def time_choice(self, prefix: str) -> str | None:
        """The time `prefix`[x] names (DateTime, Instant or Period start), strictly read."""
        resource = self.resource
        if f"{prefix}DateTime" in resource:
            return self.date_time(resource[f"{prefix}DateTime"], f"{prefix}DateTime")
        if f"{prefix}Instant" in resource:
            return self.instant(resource[f"{prefix}Instant"], f"{prefix}Instant")
        period = self.obj(resource.get(f"{prefix}Period"), f"{prefix}Period")
        return self.date_time(period.get("start"), f"{prefix}Period.start") if period else None
