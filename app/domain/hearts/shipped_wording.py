"""The words of the shipped protocol file (resources/protocols/hearts_hypertension.json),
marked for the catalog so the chart shows them in the user's language.

The engine looks each protocol text up by its English (`as_text(p.after_last_step)`): a
health system's own protocol file, whose words are not here, is shown as written.
tests/domain/test_hearts_wording.py checks this list against the shipped file.
"""

from __future__ import annotations

from app.domain.wording import N_

SHIPPED_TEXTS = (
    N_("WHO HEARTS hypertension protocol"),
    N_("Calcium channel blocker"),
    N_("Angiotensin receptor blocker or ACE inhibitor"),
    N_("Thiazide diuretic"),
    N_(
        "Very high blood pressure: check for symptoms and signs of organ damage, see the "
        "patient today and refer urgently if any are present"
    ),
    N_(
        "Blood pressure not controlled on every step of the protocol: check that the medicines "
        "are taken every day, then refer to a specialist"
    ),
    N_(
        "ACE inhibitors, angiotensin receptor blockers and thiazide diuretics are not given to "
        "pregnant women or to women of child-bearing age not on effective contraception; a "
        "calcium channel blocker can be used; if not controlled on it, refer"
    ),
)
