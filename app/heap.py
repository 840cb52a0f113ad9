"""Keeping the cyclic garbage collector's full collections out of clinicians' clicks.

Opening a 1,000-event chart makes ~10,000 short-lived container objects, so every few opens
Python starts a full collection, which walks every object the process holds: Qt wrappers,
SQLAlchemy, the reference data, the clinic (hundreds of thousands after unlock). That pause
(10-25 ms on a 2-core laptop) lands in the middle of whatever the clinician clicked. The
objects made up to the first usable window live as long as the session, so once it is up
they are moved out of the collector's sight (gc.freeze); when the session ends they are handed
back, so whatever of it is garbage then can be collected.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what startup left behind, then freeze everything that is still alive."""
    gc.collect()
    gc.freeze()


def release() -> None:
    """Hand frozen objects back to the collector (their next full collection decides)."""
    gc.unfreeze()
