"""Device settings kept inside the encrypted vault (they include sync secrets)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, delete, insert, select

from app.store import schema
from app.store.database import read_transaction, write_transaction


def load(engine: Engine) -> dict[str, Any]:
    with read_transaction(engine) as conn:
        rows = conn.execute(select(schema.settings.c.key, schema.settings.c.value)).all()
    return {k: json.loads(v) for k, v in rows}


def save(engine: Engine, values: dict[str, Any]) -> None:
    """Replace the given keys (a value of None removes the key)."""
    with write_transaction(engine) as conn:
        for key, value in values.items():
            conn.execute(delete(schema.settings).where(schema.settings.c.key == key))
            if value is not None:
                conn.execute(insert(schema.settings).values(key=key, value=json.dumps(value)))
