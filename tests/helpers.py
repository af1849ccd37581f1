"""Small helpers shared by test files in several directories."""

from __future__ import annotations

import typing as t


def stringify(value: t.Any) -> t.Any:
    """What sent fields look like after the XML round trip: every leaf a string."""
    if isinstance(value, dict):
        return {key: stringify(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [stringify(item) for item in value]
    return str(value)
