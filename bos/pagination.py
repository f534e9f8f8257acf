"""Opaque keyset cursors: the full sort key of the last row served, so ties never skip or repeat a row."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from bos.exceptions import BadParameter


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_cursor(cursor: str, length: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = orjson.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise BadParameter("Malformed cursor.", {"cursor": ["Not a cursor issued by this server."]}) from exc
    if not isinstance(key, list) or len(key) != length:
        raise BadParameter("Malformed cursor.", {"cursor": ["Not a cursor issued by this server."]})
    return key


def parse_limit(raw: str | None, default: int = 100, maximum: int = 1000) -> int:
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError as exc:
        raise BadParameter("Malformed limit.", {"limit": ["Must be a whole number."]}) from exc
    if not 1 <= limit <= maximum:
        raise BadParameter("Limit out of range.", {"limit": [f"Must be between 1 and {maximum}."]})
    return limit
