"""Registry of change kinds. Each module of ``_MODULES`` registers its specs (``@register``); ``get(kind)``
returns one, ``specs()`` all of them. A module listed here that cannot be imported fails loudly."""

from __future__ import annotations

import importlib

from xueji.core.errors import ApplicationError

from .base import KindSpec

_REGISTRY: dict[str, KindSpec] = {}
_loaded = False
_MODULES = (
    "transfer",
    "suspension",
    "withdrawal",
    "death",
    "graduation",
    "abroad",
    "deferral",
    "reform",
    "special",
    "key_data",
    "progression",
)


def register(spec_class: type[KindSpec]) -> type[KindSpec]:
    _REGISTRY[spec_class.kind] = spec_class()
    return spec_class


def _load() -> None:
    global _loaded  # noqa: PLW0603 - a module-level "imported once" flag
    _loaded = True
    for name in _MODULES:
        importlib.import_module(f"{__name__}.{name}")


def get(kind: str) -> KindSpec:
    if not _loaded:
        _load()
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ApplicationError("kind_not_available", f"业务类型 {kind} 暂未开放") from None


def available() -> list[str]:
    if not _loaded:
        _load()
    return sorted(_REGISTRY)


def specs(*, entry: str | None = None) -> list[KindSpec]:
    """Every registered spec (of one ``entry``), in menu order."""
    if not _loaded:
        _load()
    found = [s for s in _REGISTRY.values() if entry is None or s.entry == entry]
    return sorted(found, key=lambda s: (s.menu_order, s.kind))
