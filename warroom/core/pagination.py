"""Opaque cursors for keyset pagination over descending integer ids."""

from __future__ import annotations

import base64

from warroom.core.errors import ValidationFailed


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode()).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "id":
            raise ValueError(raw)
        number = int(value)
        if not 0 < number < 2**31:
            raise ValueError(number)
        return number
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "cursor is not a cursor returned by this API", field="cursor"
        ) from exc
