"""Tables owned by the store (SQLAlchemy Core). Projections declare their own tables."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("name", String, primary_key=True),
    Column("role", String, nullable=False),
    Column("created_at", String, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
)

events = Table(
    "events",
    metadata,
    Column("position", Integer, primary_key=True),
    Column("event_id", String, nullable=False, unique=True),
    Column("stream_id", String, nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("type", String, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("chain", LargeBinary, nullable=False),
    UniqueConstraint("stream_id", "stream_version", name="uq_stream_version"),
)

log_head = Table(
    "log_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("chain", LargeBinary, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("command_id", String, primary_key=True),
    Column("seq", Integer, nullable=False, unique=True),
    Column("stream_id", String, nullable=False),
    Column("command_type", String, nullable=False),
    Column("command", Text, nullable=False),
    Column("first_position", Integer, nullable=False),
    Column("last_position", Integer, nullable=False),
    Column("recorded_at", String, nullable=False),
    Column("user", String, nullable=False),
    Column("role", String, nullable=False),
    Column("status", String, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    Column("detail", Text),
    Column("result", Text, nullable=False),
    Column("in_flight", Integer, nullable=False, default=0),
)

settings = Table(
    "settings",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

drafts = Table(
    "drafts",
    metadata,
    Column("draft_id", String, primary_key=True),
    Column("user", String, nullable=False),
    Column("form", String, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("saved_at", String, nullable=False),
)

purged_events = Table(
    "purged_events",
    metadata,
    Column("position", Integer, primary_key=True),
    Column("chain", LargeBinary, nullable=False),
    Column("purge_id", String, nullable=False),
)

purge_guard = Table(
    "purge_guard",
    metadata,
    Column("id", Integer, primary_key=True),
)
