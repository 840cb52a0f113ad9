"""How referrals read on screen (the chart tab and the forms share these words)."""

from __future__ import annotations

from app.i18n import N_, _, pgettext
from app.services.dto import ItemView
from app.ui.formatting import when

# English msgids: show with `_(URGENCY_TEXT[code])` / status_text().
URGENCY_TEXT = {
    "routine": N_("Routine"),
    "urgent": N_("Urgent"),
    "asap": N_("As soon as possible"),
    "stat": N_("Immediately (stat)"),
}
STATUS_TEXT = {
    "active": "Open",  # shown with pgettext("referral status", "Open") in status_text()
    "on-hold": N_("On hold"),
    "completed": N_("Completed"),
    "revoked": N_("Cancelled"),
    "draft": N_("Draft"),
    "unknown": N_("Unknown"),
}
# Referrals still waiting for the receiving facility (app/domain/chart.py ACTIVE_STATUSES).
OPEN_STATUSES = ("active", "on-hold", "draft")


def status_line(item: ItemView) -> str:
    """The status as people say it, and since when it holds (when it changed after the
    referral was made)."""
    text = status_text(item.status)
    changed = item.data.get("status_changed_at")
    if not changed:
        return text
    return _("{status} since {time}").format(status=text, time=when(changed))


def urgency_text(code: str) -> str:
    label = URGENCY_TEXT.get(code)
    return _(label) if label else code  # an URGENCY_TEXT msgid


def status_text(code: str) -> str:
    """A referral's status in the current language ("Open": waiting, not an action)."""
    label = STATUS_TEXT.get(code)
    if label is None:
        return code
    if code == "active":
        # Translators: a referral's status: still waiting for the receiving facility
        return pgettext("referral status", "Open")
    return _(label)  # a STATUS_TEXT msgid


def describe_referral(item: ItemView) -> str:
    """One referral in one line: facility, reason, when, status."""
    d = item.data
    return _("{facility}: {reason} ({time}, {status})").format(
        facility=d.get("to_facility") or "—",
        reason=d.get("reason") or "—",
        time=when(d.get("referred_at")),
        status=status_line(item),
    )
