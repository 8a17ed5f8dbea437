"""Progress events from a running sweep to whoever listens (the CLI's rich progress bar)."""
from __future__ import annotations

from typing import Callable

_listeners: list[Callable[[str, dict], None]] = []


def listen(fn: Callable[[str, dict], None]) -> Callable[[], None]:
    _listeners.append(fn)
    return lambda: _listeners.remove(fn)


def emit(event: str, **info) -> None:
    for fn in list(_listeners):
        fn(event, info)
