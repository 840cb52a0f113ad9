"""How referrals read on screen (the chart tab and the forms share these words)."""

from __future__ import annotations

from app.services.dto import ItemView
from app.ui.formatting import when

URGENCY_TEXT = {
    "routine": "Routine",
    "urgent": "Urgent",
    "asap": "As soon as possible",
    "stat": "Immediately (stat)",
}
STATUS_TEXT = {
    "active": "Open",
    "on-hold": "On hold",
    "completed": "Completed",
    "revoked": "Cancelled",
    "draft": "Draft",
    "unknown": "Unknown",
}
# Referrals still waiting for the receiving facility (app/domain/chart.py ACTIVE_STATUSES).
OPEN_STATUSES = ("active", "on-hold", "draft")


def status_line(item: ItemView) -> str:
    """The status as people say it, and since when it holds (when it changed after the
    referral was made)."""
    text = STATUS_TEXT.get(item.status, item.status)
    changed = item.data.get("status_changed_at")
    return f"{text} since {when(changed)}" if changed else text


def describe_referral(item: ItemView) -> str:
    """One referral in one line: facility, reason, when, status."""
    d = item.data
    return (
        f"{d.get('to_facility') or '—'}: {d.get('reason') or '—'} "
        f"({when(d.get('referred_at'))}, {status_line(item)})"
    )
