"""Reading config dataclasses from JSON, shared by every model, trainer and data config."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def strict_from_dict(cls: type[T], d: dict[str, Any], what: str) -> T:
    """`cls(**d)`, refusing unknown keys: a typo in a config file must fail, not be ignored."""
    unknown = set(d) - {f.name for f in fields(cls)}  # type: ignore[arg-type]
    if unknown:
        raise ValueError(f"unknown {what} keys: {sorted(unknown)}")
    return cls(**d)
