"""The shipped protocol's words are in the catalog, so the chart shows them translated."""

from __future__ import annotations

import json
from pathlib import Path

from app.domain.hearts.shipped_wording import SHIPPED_TEXTS

PROTOCOL = Path(__file__).resolve().parents[2] / "resources/protocols/hearts_hypertension.json"


def test_every_text_of_the_shipped_protocol_is_marked_for_translation() -> None:
    data = json.loads(PROTOCOL.read_text(encoding="utf-8"))
    shown = {
        data["name"],
        data["after_last_step"],
        data["child_bearing"]["rule"],
        data["urgent"]["advice"],
        *(component["name"] for component in data["components"]),
    }
    assert shown == set(SHIPPED_TEXTS)
