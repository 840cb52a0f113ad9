"""Patient <-> the chart's demographics and identifiers.

FieldChart owns one name (official, else usual, else one without a use), one phone (mobile,
else home, else any current phone), one address (home, else any current), gender, birthDate,
and adds its identifiers. Every other name, telecom, address and identifier is kept, and so is
everything else on the resource. The same selection reads and writes, so an unchanged chart
maps back onto its server copy without a difference.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sync.fhir.mapping.common import (
    FIELDCHART_ID,
    Base,
    Json,
    put,
    start_from,
    update,
    update_value,
)
from sync.fhir.mapping.reader import Reader
from sync.fhir.mapping.remote import RemotePatient

OWNED = frozenset({"identifier", "name", "gender", "birthDate", "telecom", "address"})
SEXES = frozenset({"female", "male", "other", "unknown"})
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country")


def to_fhir_patient(
    patient_id: str,
    demographics: Mapping[str, str | None],
    identifiers: Sequence[Mapping[str, str]],
    base: Base,
) -> Json:
    """The Patient to PUT for the chart's demographics, starting from the server's copy."""
    resource = start_from(base, "Patient", patient_id)
    _update_identifiers(resource, identifiers)
    _update_name(resource, demographics.get("given") or "", demographics.get("family") or "")
    sex = demographics.get("sex")
    if base is None:
        put(resource, "gender", sex)
    else:  # a server copy without gender reads as "unknown": an unknown sex adds none there
        update(resource, "gender", sex, _gender, sex)
    update_value(resource, "birthDate", demographics.get("birth_date"))
    _update_phone(resource, demographics.get("phone"))
    _update_address(resource, demographics.get("address"))
    return resource


def from_fhir_patient(resource: Mapping[str, Any]) -> RemotePatient:
    """Demographics and identifiers of a server Patient."""
    r = Reader(resource, "Patient")
    names = _objects(r, resource.get("name"), "name")
    index = _name_index(names)
    if index is None:
        r.unsupported("name", "is missing; the chart needs a name")
    for part in ("family", "text"):
        r.string(names[index].get(part), f"name[{index}].{part}")
    for i, given_part in enumerate(r.array(names[index].get("given"), f"name[{index}].given")):
        r.string(given_part, f"name[{index}].given[{i}]")
    given, family = name_parts(names[index])
    if not given and not family:
        r.unsupported(f"name[{index}]", "has no family, given or text")
    birth_date = r.date(resource.get("birthDate"), "birthDate")
    if birth_date is None:
        r.unsupported("birthDate", "is missing; the chart needs a birth date")
    telecom = _objects(r, resource.get("telecom"), "telecom")
    phone_index = _phone_index(telecom)
    if phone_index is not None:
        r.string(telecom[phone_index].get("value"), f"telecom[{phone_index}].value")
    addresses = _objects(r, resource.get("address"), "address")
    address_index = _address_index(addresses)
    if address_index is not None:
        r.string(addresses[address_index].get("text"), f"address[{address_index}].text")
    demographics: dict[str, str | None] = {
        "given": given,
        "family": family,
        "birth_date": birth_date,
        "sex": r.code(resource.get("gender"), "gender", SEXES) or "unknown",
        "phone": _phone_value(telecom[phone_index]) if phone_index is not None else None,
        "address": address_text(addresses[address_index]) if address_index is not None else None,
    }
    identifiers: list[dict[str, str]] = []
    for i, ident in enumerate(_objects(r, resource.get("identifier"), "identifier")):
        system = r.string(ident.get("system"), f"identifier[{i}].system")
        value = r.string(ident.get("value"), f"identifier[{i}].value")
        if system == FIELDCHART_ID:
            continue  # how sync finds the resource again, not one of the patient's numbers
        if system and value and {"system": system, "value": value} not in identifiers:
            identifiers.append({"system": system, "value": value})
    return RemotePatient(r.id, r.version_id, demographics, identifiers)


def _gender(current: Any) -> Any:
    return current or "unknown"


# -- which entry is ours --------------------------------------------------------------------


def _pick(
    entries: Sequence[Any],
    accept: Callable[[Mapping[str, Any]], bool],
    uses: tuple[str | None, ...],
) -> int | None:
    candidates = [(i, e) for i, e in enumerate(entries) if isinstance(e, Mapping) and accept(e)]
    for use in uses:
        for i, entry in candidates:
            if entry.get("use") == use:
                return i
    return candidates[0][0] if candidates else None


def _name_index(names: Sequence[Any]) -> int | None:
    return _pick(
        names, lambda n: n.get("use") not in ("old", "maiden"), ("official", "usual", None)
    )


def _phone_index(telecom: Sequence[Any]) -> int | None:
    return _pick(
        telecom,
        lambda t: t.get("system") == "phone" and t.get("use") != "old",
        ("mobile", "home", None),
    )


def _address_index(addresses: Sequence[Any]) -> int | None:
    return _pick(addresses, lambda a: a.get("use") != "old", ("home", None))


def name_parts(name: Mapping[str, Any]) -> tuple[str, str]:
    """(given, family) as the chart shows them; a text-only name shows as the family name."""
    raw_given = name.get("given")
    given_list = raw_given if isinstance(raw_given, list) else []
    given = " ".join(g.strip() for g in given_list if isinstance(g, str) and g.strip())
    family_raw = name.get("family")
    family = family_raw.strip() if isinstance(family_raw, str) else ""
    text = name.get("text")
    if not given and not family and isinstance(text, str):
        family = text.strip()
    return given, family


def address_text(address: Mapping[str, Any]) -> str | None:
    """One line of text for an address: its text, else its parts joined."""
    text = address.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()
    lines = address.get("line")
    parts = [x for x in lines if isinstance(x, str)] if isinstance(lines, list) else []
    parts += [address[k] for k in _ADDRESS_PARTS[1:] if isinstance(address.get(k), str)]
    joined = ", ".join(p.strip() for p in parts if p.strip())
    return joined or None


def _phone_value(telecom: Mapping[str, Any]) -> str | None:
    value = telecom.get("value")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _objects(r: Reader, value: Any, element: str) -> list[Mapping[str, Any]]:
    entries = r.array(value, element)
    for i, entry in enumerate(entries):
        r.obj(entry, f"{element}[{i}]")
    return entries


def _entries(resource: Json, key: str) -> list[Any]:
    current = resource.get(key)
    return list(current) if isinstance(current, list) else []


# -- writing our entries --------------------------------------------------------------------


def _update_identifiers(resource: Json, identifiers: Sequence[Mapping[str, str]]) -> None:
    entries = _entries(resource, "identifier")
    present = {(e.get("system"), e.get("value")) for e in entries if isinstance(e, Mapping)}
    for ident in identifiers:
        key = (ident["system"], ident["value"])
        if key not in present:
            entries.append({"system": key[0], "value": key[1]})
            present.add(key)
    put(resource, "identifier", entries)


def _update_name(resource: Json, given: str, family: str) -> None:
    names = _entries(resource, "name")
    index = _name_index(names)
    if index is not None and name_parts(names[index]) == (given, family):
        return
    new: Json = {"use": "official"} if index is None else dict(names[index])
    for key in ("text", "family", "given"):
        new.pop(key, None)  # a text would now contradict the parts
    if family:
        new["family"] = family
    if given:
        new["given"] = [given]
    if index is None:
        names.append(new)
    else:
        names[index] = new
    put(resource, "name", names)


def _update_phone(resource: Json, phone: str | None) -> None:
    telecom = _entries(resource, "telecom")
    index = _phone_index(telecom)
    if (_phone_value(telecom[index]) if index is not None else None) == phone:
        return
    if index is None:
        telecom.append({"system": "phone", "value": phone})
    elif phone is None:
        del telecom[index]
    else:
        telecom[index] = {**telecom[index], "value": phone}
    put(resource, "telecom", telecom)


def _update_address(resource: Json, address: str | None) -> None:
    addresses = _entries(resource, "address")
    index = _address_index(addresses)
    if (address_text(addresses[index]) if index is not None else None) == address:
        return
    if index is None:
        addresses.append({"use": "home", "text": address})
    elif address is None:
        del addresses[index]
    else:
        # The structured parts described the old address; keep use, type, period, extensions.
        kept = {k: v for k, v in addresses[index].items() if k not in ("text", *_ADDRESS_PARTS)}
        addresses[index] = {**kept, "text": address}
    put(resource, "address", addresses)
