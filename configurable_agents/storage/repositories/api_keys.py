"""API keys for programs: created with a random secret shown once, kept as its SHA-256.

A key looks like ``ca_<43 url-safe characters>`` (256 random bits): a hash without salt
is enough for secrets that cannot be guessed, and lets a request find its key by hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from configurable_agents.storage.errors import (
    ApiKeyNameTakenError,
    ApiKeyNotFoundError,
    InvalidValueError,
)
from configurable_agents.storage.models import ApiKey, utcnow

KEY_PREFIX = "ca_"
# Shown in listings so a person can tell keys apart; far too short to guess the rest.
SHOWN_CHARACTERS = 8
NAME_MAX = 100
# last_used_at is a hint for people: write it at most once a minute per key.
LAST_USED_EVERY = timedelta(minutes=1)


def hash_key(key: str) -> str:
    """SHA-256 of a key, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def create(session: Session, name: str) -> tuple[ApiKey, str]:
    """A new key named ``name``: the row and the key itself (shown once, never stored)."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise InvalidValueError(f"an API key needs a name of 1 to {NAME_MAX} characters")
    if get_live(session, name) is not None:
        raise ApiKeyNameTakenError(f"an API key named {name!r} already exists; revoke it first")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(
        name=name, prefix=key[: len(KEY_PREFIX) + SHOWN_CHARACTERS], key_hash=hash_key(key)
    )
    session.add(row)
    session.flush()
    return row, key


def get_live(session: Session, name: str) -> ApiKey | None:
    """The live (not revoked) key of that name."""
    return session.scalar(select(ApiKey).where(ApiKey.name == name, ApiKey.revoked_at.is_(None)))


def list_keys(session: Session, *, include_revoked: bool = False) -> Sequence[ApiKey]:
    """Keys by name (live ones only unless asked)."""
    query = select(ApiKey).order_by(ApiKey.name, ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    return session.scalars(query).all()


def revoke(session: Session, name: str) -> ApiKey:
    """Revoke the live key of that name (ApiKeyNotFoundError when there is none)."""
    row = get_live(session, name)
    if row is None:
        raise ApiKeyNotFoundError(f"no live API key named {name!r}")
    row.revoked_at = utcnow()
    session.flush()
    return row


def verify(session: Session, key: str, *, now: datetime | None = None) -> ApiKey | None:
    """The live key this secret belongs to (and note its use), else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    digest = hash_key(key)
    row = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    # The lookup is by hash; compare again in constant time so no shortcut depends on it.
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.revoked_at is not None:
        return None
    now = now or utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
    return row


def count_live(session: Session) -> int:
    """How many keys are not revoked."""
    return len(list_keys(session))
