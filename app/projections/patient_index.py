"""Patient index: search by name prefix, identifier (or its prefix), patient id prefix, phone
number or birth date (accent/case-insensitive).

Phone numbers are compared as digits only (see docs/decisions.md): a query of six digits or
more, written as a phone number may be ("+254 712 480 316", "0712-480316"), finds patients
whose phone holds it. Of a query with nine digits or more only the last nine count (a
national number without trunk 0 or country code: "0712480316" and "+254712480316" both find
"+254 712 480 316"); a shorter one loses a leading trunk 0 and must appear somewhere in the
number.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import singledispatch
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, Index, String, Table, Text, select

from app.domain import events as ev
from app.domain.reference import fold
from app.projections.base import READ_ONLY, Writes, metadata, patient_of
from app.store.event_log import RecordedEvent

patients = Table(
    "pi_patients",
    metadata,
    Column("patient_id", String, primary_key=True),
    Column("given", Text, nullable=False),
    Column("family", Text, nullable=False),
    Column("birth_date", String, nullable=False),
    Column("sex", String, nullable=False),
    Column("phone", Text),
    Column("phone_digits", Text, nullable=False),  # the phone's digits only, for search
    Column("address", Text),
    Column("identifiers", Text, nullable=False),
    Column("sort_key", Text, nullable=False),
    Column("registered_at", String, nullable=False),
    Index("ix_pi_patients_birth", "birth_date", info=READ_ONLY),
    Index("ix_pi_patients_sort", "sort_key", info=READ_ONLY),
)
name_tokens = Table(
    "pi_name_tokens",
    metadata,
    Column("token", Text, primary_key=True),
    Column("patient_id", String, primary_key=True),
)
identifiers = Table(
    "pi_identifiers",
    metadata,
    Column("value", Text, primary_key=True),
    Column("patient_id", String, primary_key=True),
    Column("system", Text, nullable=False),
)

TOKEN = re.compile(r"[\w]+", re.UNICODE)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PHONE = re.compile(r"^\+?[\d\s().-]+$")
NOT_DIGIT = re.compile(r"\D")
MIN_PHONE_DIGITS = 6
NATIONAL_DIGITS = 9  # of a whole number typed in any form, the last nine are compared
MIN_ID_PREFIX = 4
ID_PREFIX = re.compile(r"^[0-9a-f-]{4,36}$")


def phone_digits(phone: str | None) -> str:
    return NOT_DIGIT.sub("", phone or "")


def phone_query(text: str) -> str | None:
    """The digits to look for in phone numbers, or None if `text` is not a phone number."""
    if not PHONE.match(text) or DATE.match(text):
        return None
    digits = phone_digits(text)
    if len(digits) < MIN_PHONE_DIGITS:
        return None
    if len(digits) >= NATIONAL_DIGITS:
        return digits[-NATIONAL_DIGITS:]
    return digits[1:] if digits.startswith("0") else digits


def id_prefix_query(text: str) -> str | None:
    """A prefix of a patient id (a UUID): four or more of its characters, with a digit or a
    hyphen in it unless it is eight or more long (so that a name such as "Abbe" or "Dede"
    finds no patient by the first letters of their id)."""
    query = text.lower()
    if not ID_PREFIX.match(query):
        return None
    if len(query) < 8 and not any(ch.isdigit() or ch == "-" for ch in query):
        return None
    return query


def tokens(*names: str | None) -> set[str]:
    return {t for n in names if n for t in TOKEN.findall(fold(n))}


def _name_rows(patient_id: str, given: str, family: str) -> list[dict[str, Any]]:
    return [{"token": t, "patient_id": patient_id} for t in sorted(tokens(given, family))]


def _identifier_rows(
    patient_id: str | None, found: Iterable[Mapping[str, str]]
) -> list[dict[str, Any]]:
    return [
        {"value": fold(i["value"]), "patient_id": patient_id, "system": i["system"]} for i in found
    ]


def _sort_key(given: str, family: str) -> str:
    return f"{fold(family)}\x00{fold(given)}"


@singledispatch
def apply(event: ev.DomainEvent, w: Writes, record: RecordedEvent) -> None:
    """Events that do not touch the index."""


@apply.register
def _(event: ev.PatientRegistered, w: Writes, record: RecordedEvent) -> None:
    pid = patient_of(record) or event.patient_id
    w.insert(
        patients,
        {
            "patient_id": pid,
            "given": event.given,
            "family": event.family,
            "birth_date": event.birth_date,
            "sex": event.sex,
            "phone": event.phone,
            "phone_digits": phone_digits(event.phone),
            "address": event.address,
            "identifiers": json.dumps(event.identifiers, sort_keys=True),
            "sort_key": _sort_key(event.given, event.family),
            "registered_at": record.metadata.recorded_at,
        },
    )
    # A registration creates the patient row (a second one fails on its key), and name tokens
    # exist only beside a row, so there are none to delete first.
    w.insert_many(name_tokens, _name_rows(pid, event.given, event.family))
    w.insert_many(identifiers, _identifier_rows(pid, event.identifiers))


@apply.register
def _(event: ev.DemographicsUpdated, w: Writes, record: RecordedEvent) -> None:
    key = {"patient_id": patient_of(record)}
    row = w.get(patients, key, ("given", "family"))
    if row is None:
        return
    values: dict[str, Any] = dict(event.changes)
    given = values.get("given", row[0])
    family = values.get("family", row[1])
    values["sort_key"] = _sort_key(given, family)
    if "phone" in values:
        values["phone_digits"] = phone_digits(values["phone"])
    w.update(patients, key, values)
    if "given" in values or "family" in values:
        pid = key["patient_id"] or ""
        w.replace(name_tokens, {"patient_id": pid}, _name_rows(pid, given, family))


@apply.register
def _(event: ev.PatientVersionReceived, w: Writes, record: RecordedEvent) -> None:
    pid = patient_of(record)
    d = event.demographics
    values = {
        "given": d.get("given") or "",
        "family": d.get("family") or "",
        "birth_date": d.get("birth_date") or "",
        "sex": d.get("sex") or "unknown",
        "phone": d.get("phone"),
        "phone_digits": phone_digits(d.get("phone")),
        "address": d.get("address"),
        "identifiers": json.dumps(event.identifiers, sort_keys=True),
    }
    values["sort_key"] = _sort_key(values["given"] or "", values["family"] or "")
    w.upsert(patients, {"patient_id": pid}, values, {"registered_at": record.metadata.recorded_at})
    names = _name_rows(pid or "", values["given"] or "", values["family"] or "")
    w.replace(name_tokens, {"patient_id": pid or ""}, names)
    unique = {(i["system"], fold(i["value"])): i for i in event.identifiers}.values()
    w.replace(identifiers, {"patient_id": pid}, _identifier_rows(pid, unique))


def search(conn: Connection, text: str, limit: int = 50) -> list[Any]:
    """Patients whose every query word prefixes a name word, whose identifier or birth date
    equals the query, whose identifier or id starts with it (four characters or more), or
    whose phone number holds its digits (see the module's doc). Sorted by family then given
    name."""
    query = text.strip()
    if not query:
        return list(conn.execute(select(patients).order_by(patients.c.sort_key).limit(limit)))
    ids: set[str] = set()
    if DATE.match(query):
        ids |= set(
            conn.execute(
                select(patients.c.patient_id).where(patients.c.birth_date == query)
            ).scalars()
        )
    folded = fold(query)
    match: ColumnElement[bool]
    if len(folded) >= MIN_ID_PREFIX:
        match = (identifiers.c.value >= folded) & (identifiers.c.value < folded + "\U0010ffff")
    else:
        match = identifiers.c.value == folded
    ids |= set(conn.execute(select(identifiers.c.patient_id).where(match)).scalars())
    prefix = id_prefix_query(query)
    if prefix is not None:
        ids |= set(
            conn.execute(
                select(patients.c.patient_id).where(
                    patients.c.patient_id >= prefix, patients.c.patient_id < prefix + "\x7f"
                )
            ).scalars()
        )
    digits = phone_query(query)
    if digits is not None:
        ids |= set(
            conn.execute(
                select(patients.c.patient_id).where(patients.c.phone_digits.contains(digits))
            ).scalars()
        )
    words = sorted(tokens(query), key=len, reverse=True)
    if words:
        matched: set[str] | None = None
        for word in words:
            found = set(
                conn.execute(
                    select(name_tokens.c.patient_id).where(
                        name_tokens.c.token >= word, name_tokens.c.token < word + "\U0010ffff"
                    )
                ).scalars()
            )
            matched = found if matched is None else matched & found
            if not matched:
                break
        ids |= matched or set()
    if not ids:
        return []
    return list(
        conn.execute(
            select(patients)
            .where(patients.c.patient_id.in_(sorted(ids)))
            .order_by(patients.c.sort_key)
            .limit(limit)
        )
    )


def get(conn: Connection, patient_id: str) -> Any:
    return conn.execute(select(patients).where(patients.c.patient_id == patient_id)).first()


def count(conn: Connection) -> int:
    from sqlalchemy import func

    return int(conn.execute(select(func.count()).select_from(patients)).scalar_one())


def all_ids(conn: Connection) -> list[str]:
    """Every patient on the device (retention compares them with the scope)."""
    return [str(pid) for pid in conn.execute(select(patients.c.patient_id)).scalars()]
