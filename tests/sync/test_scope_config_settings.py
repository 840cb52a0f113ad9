"""The scope fields of the device settings (issue 14): references in the typed form the real
server needs, a bare id given its type, and a clear refusal (naming the field) of a reference of
another type, an id no server could have, or an Organization and a Group together."""

from __future__ import annotations

import pytest

from app.domain.errors import ValidationError
from app.services.settings import DeviceSettings, validate


def scoped(**fields: object) -> DeviceSettings:
    return validate(DeviceSettings(server_url="https://fhir.example.org/R4", **fields))  # type: ignore[arg-type]


def test_bare_ids_get_their_type_and_repeated_locations_count_once() -> None:
    s = scoped(
        scope_organization=" kisesa-hc ",
        scope_locations=["opd", "Location/mch", "Location/opd"],
    )
    assert s.scope_organization == "Organization/kisesa-hc"
    assert s.scope_locations == ("Location/opd", "Location/mch")
    assert scoped(scope_group="g-7").scope_group == "Group/g-7"
    assert scoped(scope_organization="").scope_organization is None


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"scope_organization": "Location/opd"},
            "scope_organization",
            "Give an Organization reference (Organization/<id>), not 'Location/opd'",
        ),
        ({"scope_group": "Group/a b"}, "scope_group", "'Group/a b' is not a Group id"),
        ({"scope_locations": ("Location/",)}, "scope_locations", "is not a Location id"),
        (
            {"scope_organization": "o1", "scope_group": "g1"},
            "scope_group",
            "by its Organization or by a Group of patients, not both",
        ),
    ],
)
def test_a_wrong_scope_is_refused_with_the_field_named(
    fields: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        scoped(**fields)
    assert message in str(refused.value)
    assert refused.value.field == field


def test_an_old_enrolment_without_scope_is_still_valid() -> None:
    s = scoped()
    assert not s.scope_named and not s.pull_everything
    assert scoped(scope_locations=["opd"]).scope_named
