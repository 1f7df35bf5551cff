"""The registry of job kinds: every module in this package defines one ``KIND``.

A new kind is one new module here; it is found by name at first use, so nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading

from kaitiaki.jobs.kind import JobKind
from kaitiaki.jobs.params import JobParamsError

_registry: dict[str, JobKind] = {}
_loaded = False
_lock = threading.Lock()


def _load() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        for module in pkgutil.iter_modules(__path__):
            found = getattr(importlib.import_module(f"{__name__}.{module.name}"), "KIND", None)
            if isinstance(found, JobKind):
                _registry.setdefault(found.name, found)
        _loaded = True


def register(kind: JobKind) -> None:
    """Add a kind defined elsewhere (a plug-in, or a test's own kind)."""
    _load()
    _registry[kind.name] = kind


def unregister(name: str) -> None:
    _registry.pop(name, None)


def get_kind(name: str) -> JobKind:
    _load()
    try:
        return _registry[name]
    except KeyError:
        raise JobParamsError("kind", f"unknown job kind {name!r}; known: {names()}") from None


def names() -> list[str]:
    _load()
    return sorted(_registry)


def all_kinds() -> list[JobKind]:
    _load()
    return [_registry[n] for n in sorted(_registry)]
