"""AuditEvent for chart views (ChartViewed), and reading AuditEvents back.

An AuditEvent names who (the user's name), what (the patient), when and from which device;
never clinical content. Reading also gives the command's type name of an AuditEvent that
names one (`COMMAND_SYSTEM`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sync.fhir.mapping.common import (
    FHIR_ID,
    FIELDCHART,
    Json,
    coding,
    parse_reference,
    reference_to,
)
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemoteAuditEvent
from sync.fhir.mapping.times import parse_instant

EVENT_TYPE = "http://terminology.hl7.org/CodeSystem/audit-event-type"
INTERACTION = "http://hl7.org/fhir/restful-interaction"
ROLE_TYPE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
COMMAND_SYSTEM = f"{FIELDCHART}:command"  # the command's type name, e.g. RecordVitals
ACTIONS = frozenset({"C", "R", "U", "D", "E"})


def to_fhir_audit_event_for_view(
    audit_id: str, patient_id: str, user: str, viewed_at: str, device_id: str
) -> Json:
    """The AuditEvent recording that `user` opened a patient's chart (a FHIR read)."""
    if not FHIR_ID.fullmatch(audit_id) or not FHIR_ID.fullmatch(patient_id):
        raise ValueError("audit and patient ids must be FHIR ids")
    if parse_instant(viewed_at) is None:
        raise ValueError("an AuditEvent needs an instant with a time zone")
    return {
        "resourceType": "AuditEvent",
        "id": audit_id,
        "type": coding(EVENT_TYPE, "rest", "RESTful Operation"),
        "subtype": [coding(INTERACTION, "read", "read")],
        "action": "R",
        "recorded": viewed_at,
        "outcome": "0",
        "agent": [
            {
                "type": {"coding": [coding(ROLE_TYPE, "humanuser", "human user")]},
                "who": {"display": user},
                "requestor": True,
            }
        ],
        "source": {
            "observer": {"display": device_id},
            "type": [coding(SOURCE_TYPE, "1", "User Device")],
        },
        "entity": [
            {
                "what": reference_to("Patient", patient_id),
                "type": coding(ENTITY_TYPE, "1", "Person"),
                "role": coding(OBJECT_ROLE, "1", "Patient"),
            }
        ],
    }


def from_fhir_audit_event(resource: Mapping[str, Any]) -> RemoteAuditEvent:
    """Who did what to which patient's chart, from a server AuditEvent."""
    r = Reader(resource, "AuditEvent")
    recorded = r.instant(resource.get("recorded"), "recorded")
    if recorded is None:
        r.fail("recorded", "is missing")
    agents = [
        r.obj(a, f"agent[{i}]") or {} for i, a in enumerate(r.array(resource.get("agent"), "agent"))
    ]
    requestor = next((a for a in agents if a.get("requestor") is True), agents[0] if agents else {})
    who = r.obj(requestor.get("who"), "agent.who") or {}
    user = who.get("display") or requestor.get("name") or who.get("reference")
    patient_id = None
    for i, entity in enumerate(r.array(resource.get("entity"), "entity")):
        what = (r.obj(entity, f"entity[{i}]") or {}).get("what")
        parsed = parse_reference(what.get("reference")) if isinstance(what, Mapping) else None
        if parsed is not None and parsed[0] == "Patient":
            patient_id = parsed[1]
            break
    subtypes = [s for s in r.array(resource.get("subtype"), "subtype") if isinstance(s, Mapping)]
    source = r.obj(resource.get("source"), "source") or {}
    observer = r.obj(source.get("observer"), "source.observer") or {}
    return RemoteAuditEvent(
        audit_id=r.id,
        version_id=r.version_id,
        action=r.code(resource.get("action"), "action", ACTIONS),
        recorded=recorded,
        user=user if isinstance(user, str) else None,
        patient_id=patient_id,
        interaction=_code(subtypes, INTERACTION),
        command_type=_code(subtypes, COMMAND_SYSTEM),
        device_id=observer.get("display") if isinstance(observer.get("display"), str) else None,
    )


def _code(codings: list[Mapping[str, Any]], system: str) -> str | None:
    return next(
        (
            str(c["code"])
            for c in codings
            if c.get("system") == system and isinstance(c.get("code"), str)
        ),
        None,
    )
