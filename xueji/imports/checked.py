"""The dry run's validated rows, kept for the commit of the same file (issue 7: validate once).

A clean dry run writes every row it validated — the :class:`~xueji.students.validation.CleanRegistration`
and its row number — to a gzip'd JSON-lines file beside the stored upload. The commit of that batch reads the
rows back instead of parsing and validating the file again, when all of these still hold:

- the stored upload still has the hash recorded at upload, and the header names that hash and this format;
- the check ran on the commit's own date (age and grade rules depend on the day) and for the school's stages
  as they are now;
- the trailer is present and counts exactly the rows the dry run accepted (a crash mid-write leaves no trailer).

Otherwise the commit validates the file again, as before. Checks against the database — a student enrolled
elsewhere meanwhile (第9条), 学籍号 assignment (第8条) — are never taken from the dry run: ``register_students``
makes them inside the commit's transaction.

The file holds personal data like the upload it was made from: it lives in the same private directory, is
written 0600, and goes with the upload (deleted at commit, purged after the retention period).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from xueji.students.identity import ParsedIdentity
from xueji.students.validation import CleanRegistration

FORMAT = 1
SUFFIX = ".checked.jsonl.gz"


def checked_path(stored: Path) -> Path:
    return stored.with_name(stored.name + SUFFIX)


def _default(value: Any) -> Any:
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    raise TypeError(f"not serialisable: {type(value).__name__}")


def _hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$date" in obj:
        return date.fromisoformat(obj["$date"])
    return obj


class CheckedWriter:
    """Writes the rows of a dry run as it validates them; :meth:`finish` seals the file, :meth:`discard`
    removes it (a problem found, the check failed)."""

    def __init__(self, stored: Path, *, sha256: str, today: date, stages: list[str]) -> None:
        self.path = checked_path(stored)
        self.count = 0
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        self._raw = os.fdopen(fd, "wb")
        # Kept open on purpose (SIM115): the writer stays open across the dry run's chunks; finish() or discard() closes it.
        self._out: TextIO | None = gzip.open(self._raw, "wt", encoding="utf-8", compresslevel=1)  # type: ignore[assignment]  # noqa: SIM115
        head = {"format": FORMAT, "sha256": sha256, "today": today.isoformat(), "stages": stages}
        self._line(head)

    def _line(self, obj: Any) -> None:
        assert self._out is not None
        self._out.write(json.dumps(obj, ensure_ascii=False, default=_default, separators=(",", ":")))
        self._out.write("\n")

    def write(self, number: int, reg: CleanRegistration) -> None:
        self._line([number, reg.person, reg.enrollment, reg.guardians, asdict(reg.identity), reg.extra])
        self.count += 1

    def _close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._raw.close()
            self._out = None

    def finish(self) -> None:
        self._line({"end": self.count})
        self._close()

    def discard(self) -> None:
        self._close()
        self.path.unlink(missing_ok=True)


def _usable(path: Path, *, sha256: str, today: date, stages: list[str], rows: int) -> bool:
    """Header and trailer agree with the batch (one pass over the compressed file, no parsing of rows)."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            head = json.loads(f.readline())
            expected = {"format": FORMAT, "sha256": sha256, "today": today.isoformat(), "stages": stages}
            if head != expected:
                return False
            last = ""
            for line in f:
                last = line
        return bool(last) and json.loads(last) == {"end": rows}
    except (OSError, EOFError, ValueError):
        return False


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return ""
    return digest.hexdigest()


def checked_rows(
    stored: Path, *, sha256: str, today: date, stages: list[str], rows: int, chunk: int
) -> Iterator[list[tuple[int, CleanRegistration]]] | None:
    """The dry run's rows in chunks, or ``None`` when they cannot be used (the commit validates again)."""
    path = checked_path(stored)
    if not path.exists() or not _usable(path, sha256=sha256, today=today, stages=stages, rows=rows):
        return None
    if _file_sha256(stored) != sha256:
        return None

    def chunks() -> Iterator[list[tuple[int, CleanRegistration]]]:
        out: list[tuple[int, CleanRegistration]] = []
        with gzip.open(path, "rt", encoding="utf-8") as f:
            f.readline()
            for line in f:
                item = json.loads(line, object_hook=_hook)
                if isinstance(item, dict):  # the trailer
                    break
                number, person, enrollment, guardians, identity, extra = item
                reg = CleanRegistration(person, enrollment, guardians, ParsedIdentity(**identity), extra)
                out.append((number, reg))
                if len(out) >= chunk:
                    yield out
                    out = []
        if out:
            yield out

    return chunks()
