"""The registry of append-only tables (等保 8.1.4.3; 第23条: audit records cannot be altered or deleted).

Core imports no app, yet :mod:`xueji.core.dbroles` (grants, triggers re-asserted after ``migrate``) and
:mod:`xueji.core.backups` (the manifest's last audit event) need to know which tables are append-only and how
their triggers are made. The app that owns such tables registers them here from its ``AppConfig.ready``
(the audit app: ``audit_auditevent`` and ``audit_fieldhistory``, see ``xueji.audit.apps``), with the function
that creates their triggers and, for the audit trail, the table whose last row fingerprints a backup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

#: ``create_triggers(vendor, executor, tables)``: (re)create the append-only triggers of ``tables``
#: (idempotent) through ``executor.execute`` — a cursor or a schema editor.
TriggerFactory = Callable[[str, Any, Iterable[str]], None]


@dataclass(frozen=True)
class AppendOnlyTables:
    tables: tuple[str, ...]
    create_triggers: TriggerFactory
    trail: str | None = None


_registry: dict[str, AppendOnlyTables] = {}


def register(
    owner: str, *, tables: Iterable[str], create_triggers: TriggerFactory, trail: str | None = None
) -> None:
    """Declare ``owner``'s append-only ``tables`` (idempotent: a second call for ``owner`` replaces the first).

    ``trail`` names the audit trail among them: a backup's manifest records its last row."""
    names = tuple(tables)
    if trail is not None and trail not in names:
        raise ValueError(f"{trail} is not among {owner}'s append-only tables")
    _registry[owner] = AppendOnlyTables(names, create_triggers, trail)


def declared_tables() -> list[str]:
    """Every registered append-only table, sorted."""
    return sorted({table for entry in _registry.values() for table in entry.tables})


def trail_table() -> str | None:
    """The audit trail's table (the last row a backup's manifest fingerprints), or ``None`` if none is
    registered."""
    for entry in _registry.values():
        if entry.trail is not None:
            return entry.trail
    return None


def create_triggers(vendor: str, executor: Any, tables: Iterable[str]) -> None:
    """(Re)create the append-only triggers of ``tables``, each through the factory of the app that owns it."""
    wanted = set(tables)
    for entry in _registry.values():
        mine = [table for table in entry.tables if table in wanted]
        if mine:
            entry.create_triggers(vendor, executor, mine)
