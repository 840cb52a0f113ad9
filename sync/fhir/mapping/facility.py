"""What a device's facility adds to the resources it creates (issue 14's sync scope).

A patient registered here is managed by the facility's Organization (``managingOrganization``),
which is how a scoped pull (``Patient?organization=…``, chained searches) finds them again; an
encounter recorded here took place at the facility's first Location (``Encounter.location``).

Only on create (no server copy yet): a patient from another facility keeps the organization the
server gives them, and a value the server holds is never replaced. Not an owned element, so a
pulled copy with another value is not a difference to push back.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync.fhir.mapping.common import Base, Json

__all__ = ["Facility", "stamp_new"]


@dataclass(frozen=True)
class Facility:
    """The facility a device serves, as server references ("Organization/<server id>")."""

    organization: str | None = None
    location: str | None = None  # the first of the scope's Locations


def stamp_new(resource_type: str, resource: Json, base: Base, facility: Facility | None) -> Json:
    """`resource` with the facility's references added when it is new on the server."""
    if base is not None or facility is None:
        return resource
    if resource_type == "Patient" and facility.organization:
        resource.setdefault("managingOrganization", {"reference": facility.organization})
    elif resource_type == "Encounter" and facility.location and not resource.get("location"):
        resource["location"] = [{"location": {"reference": facility.location}}]
    return resource
