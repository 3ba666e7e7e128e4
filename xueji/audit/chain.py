"""The tamper-evident audit chain (issue 11 §2; 等保 8.1.4.3 CES1-14 and 1.6 CES1-25..28; GB/T 39786-2021 §8.4 f/g;
第23条 学籍安全预警, security.md acceptance tests 6 and 25).

Events are inserted exactly as before — :func:`xueji.audit.services.record` and the set-based ``COPY`` path
(:func:`~xueji.audit.services.record_many`) — concurrently, inside the transaction of the change they describe,
with no hash and no lock: chaining must not serialise the system. A *sequencer* (:func:`chain_pending`, the
queue task ``xueji.audit.tasks.chain_events`` every minute and ``manage.py audit_chain`` on demand) runs one at a
time (a transaction-level advisory lock on PostgreSQL; SQLite's single writer) and appends one
:class:`~xueji.audit.models.AuditChainLink` per committed, not yet chained event, in id order of what has
committed so far::

    hash(n) = SM3(hash(n-1) ‖ JCS(canonical event))        hash(0) = 32 zero bytes

where the canonical event is every stored column of the event, its id included (:func:`canonical`), serialised
with RFC 8785 (JCS). The chain order is the sequencer's (``seq``): an event whose transaction commits after a
later id was already chained gets a later position. Late commits are found in a bounded window: each link
keeps ``high_water``, the largest event id chained so far, and the sequencer looks for unchained events above
Late commits are looked for once per run among the unchained events at or below the high-water mark (the
largest event id chained so far, kept on each link) written in the last ``AUDIT_CHAIN_SETTLE_SECONDS``
(``occurred_at`` is set inside the writing transaction and indexed; no transaction lasts that long); then the
events above the mark are chained in id order. Cost per run: the events of the settle window, not the table.

Checkpoints (:func:`make_checkpoint`): every ``AUDIT_CHECKPOINT_EVERY`` links or ``AUDIT_CHECKPOINT_SECONDS``,
the head (seq, hash) is signed with Ed25519 and SM2 (:mod:`xueji.audit.signing`) and kept in
:class:`~xueji.audit.models.AuditCheckpoint`, exported to the audit administrator (:func:`export_checkpoints`).

:func:`verify_chain` (``manage.py audit_verify``) recomputes the chain and names the first bad position:
``missing`` (a link or its event deleted), ``modified`` (an event or a link changed), ``reordered`` (events or
links swapped), ``inserted`` (a forged link spliced in), ``rewritten`` (the chain recomputed after a change, but
no longer matching a signed checkpoint), ``truncated`` (the tail cut below the last checkpoint),
``bad_checkpoint`` (a checkpoint whose signatures do not verify) and ``unchained`` (an event older than the
settle window that is in no link: inserted into the past). The links and the checkpoints are append-only like
the events (triggers, migration 0005): rewriting any of them needs the owner role, which the application does
not hold (``xueji.core.dbroles``), and still shows here.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import gmssl_pyx
import rfc8785
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from xueji.core.bulk import insert_rows

from . import signing
from .enums import EventType
from .models import AuditChainLink, AuditCheckpoint, AuditEvent
from .services import EVENT_COLUMNS
from .services import record as record_event

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
#: The columns hashed, in this order of reading (the JSON object itself is sorted by JCS).
FIELDS = ("id", *EVENT_COLUMNS)
LINK_COLUMNS = ("seq", "event_id", "hash", "high_water", "chained_at")
BATCH = 5000
#: ``pg_advisory_xact_lock`` key of the sequencer and the checkpoints ("xjauditc").
LOCK_KEY = 0x786A617564697463
STATEMENT_TYPE = "xueji-audit-checkpoint"
_MAX_SAFE = 2**53 - 1  # JCS (I-JSON) integers


def settle_seconds() -> int:
    return int(getattr(settings, "AUDIT_CHAIN_SETTLE_SECONDS", 6 * 3600))


def checkpoint_every() -> int:
    return int(getattr(settings, "AUDIT_CHECKPOINT_EVERY", 10_000))


def checkpoint_seconds() -> int:
    return int(getattr(settings, "AUDIT_CHECKPOINT_SECONDS", 3600))


# --- canonical form and hash ----------------------------------------------------------------------------------


def _plain(value: Any) -> bool:
    """Is ``value`` JSON on which Python's sorted compact ``json.dumps`` equals JCS? (No floats, integers within
    ±2^53, object keys that sort the same in UTF-16 and in code points.) Checked by tests/audit/test_chain.py.
    Plain loops, no generators: this runs for every event the sequencer and the verifier hash."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_MAX_SAFE <= value <= _MAX_SAFE
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key, default="") < "\ue000"):
                return False
            kind = type(item)
            if not (kind is str or kind is bool or item is None or _plain(item)):
                return False
        return True
    if kind is list:
        for item in value:
            kind = type(item)
            if not (kind is str or kind is bool or item is None or _plain(item)):
                return False
        return True
    return False


def _jcs_safe(value: Any) -> Any:
    """What RFC 8785 cannot serialise, made explicit: non-finite floats and integers beyond ±2^53 as strings."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if -_MAX_SAFE <= value <= _MAX_SAFE else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {str(k): _jcs_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jcs_safe(v) for v in value]
    return str(value)


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def jcs(value: Any) -> bytes:
    """RFC 8785 canonical JSON: Python's C encoder where it provably gives the same bytes, ``rfc8785`` otherwise."""
    if _plain(value):
        return _ENCODER.encode(value).encode()
    return bytes(rfc8785.dumps(_jcs_safe(value)))


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(row: Sequence[Any]) -> bytes:
    """JCS of an event read as ``FIELDS`` (the values the database returns, so the sequencer and the verifier,
    both reading the stored row, hash the same bytes)."""
    event = dict(zip(FIELDS, row, strict=True))
    event["occurred_at"] = _instant(event["occurred_at"])
    # Every column but before/after is a str, int, bool or None with an ASCII name: only those two need the
    # check of :func:`_plain` (and the int range of the ids, which BIGINT keeps within ±2^63).
    if (
        _plain(event["before"])
        and _plain(event["after"])
        and all(type(v) is not int or -_MAX_SAFE <= v <= _MAX_SAFE for v in row)
    ):
        return _ENCODER.encode(event).encode()
    return bytes(rfc8785.dumps(_jcs_safe(event)))


def sm3(data: bytes) -> bytes:
    return bytes(gmssl_pyx.sm3_hash(data))


def link_hash(previous: str, canonical_event: bytes) -> str:
    return sm3(bytes.fromhex(previous) + canonical_event).hex()


# --- the sequencer ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    high_water: int


EMPTY = Head(0, GENESIS, 0)


def _lock() -> bool:
    """The sequencer's (and the checkpoints') mutual exclusion, held to the end of the transaction. PostgreSQL:
    an advisory lock — a second sequencer does not wait, it finds the work done or being done. SQLite: the
    transaction already holds the one write lock (``transaction_mode = IMMEDIATE``)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK_KEY])
        return bool(cursor.fetchone()[0])


def head() -> Head:
    row = AuditChainLink.objects.order_by("-seq").values_list("seq", "hash", "high_water").first()
    return Head(*row) if row else EMPTY


def settled_floor(top: Head, now: datetime) -> int | None:
    """The high-water mark of the last link chained at least ``AUDIT_CHAIN_SETTLE_SECONDS`` before ``now``
    (None if none): every event at or below it has been chained or will never commit. Binary search on ``seq``
    (links are written in time order): about log2(n) primary-key reads, whatever the chain's length."""
    cutoff = now - timedelta(seconds=settle_seconds())
    lo, hi, found = 1, top.seq, None
    while lo <= hi:
        mid = (lo + hi) // 2
        row = AuditChainLink.objects.filter(seq=mid).values_list("chained_at", "high_water").first()
        if row is None:  # a hole (only after tampering): look lower, conservatively
            hi = mid - 1
            continue
        if row[0] <= cutoff:
            found, lo = row[1], mid + 1
        else:
            hi = mid - 1
    return None if found is None else int(found)


def _late(high_water: int, after: int | None, cutoff: datetime, limit: int) -> list[tuple[Any, ...]]:
    """Unchained events at or below the high-water mark written since ``cutoff``: transactions that committed
    after higher ids were chained (``occurred_at`` is set inside the writing transaction, and indexed)."""
    chained = AuditChainLink.objects.filter(event_id=OuterRef("id"))
    events = AuditEvent.objects.filter(id__lte=high_water, occurred_at__gte=cutoff)
    if after is not None:
        events = events.filter(id__gt=after)
    return list(events.filter(~Exists(chained)).order_by("id").values_list(*FIELDS)[:limit])


def _new(high_water: int, limit: int) -> list[tuple[Any, ...]]:
    """Events above the high-water mark (none of them chained, unless the chain was tampered with)."""
    chained = AuditChainLink.objects.filter(event_id=OuterRef("id"))
    events = AuditEvent.objects.filter(id__gt=high_water).filter(~Exists(chained))
    return list(events.order_by("id").values_list(*FIELDS)[:limit])


@dataclass
class ChainRun:
    chained: int = 0
    head: Head = EMPTY
    checkpoints: int = 0
    busy: bool = False  # another sequencer held the lock


def chain_pending(
    *, batch: int = BATCH, limit: int | None = None, now: datetime | None = None, checkpoints: bool = True
) -> ChainRun:
    """Append a link for every committed event not yet chained (at most ``limit``), ``batch`` events per short
    transaction; sign a checkpoint whenever one is due (when the keys are configured). Side effects: INSERTs
    into the chain (and checkpoint) tables only; the events are read, never touched."""
    run = ChainRun()
    late_after: int | None = None
    late_done = False
    cutoff = (now or timezone.now()) - timedelta(seconds=settle_seconds())
    while limit is None or run.chained < limit:
        size = batch if limit is None else min(batch, limit - run.chained)
        stamp = now or timezone.now()
        with transaction.atomic():
            if not _lock():
                run.busy = True
                break
            top = head()
            rows: list[tuple[Any, ...]] = []
            if not late_done:  # late commits first (once per run), then what is new
                rows = _late(top.high_water, late_after, cutoff, size)
                late_done = len(rows) < size
                late_after = rows[-1][0] if rows else late_after
            if not rows:
                rows = _new(top.high_water, size)
            if not rows:
                run.head = top
                break
            links, previous, high = [], top.hash, top.high_water
            for offset, row in enumerate(rows, start=1):
                previous = link_hash(previous, canonical(row))
                high = max(high, row[0])
                links.append(
                    {
                        "seq": top.seq + offset,
                        "event_id": row[0],
                        "hash": previous,
                        "high_water": high,
                        "chained_at": stamp,
                    }
                )
            insert_rows(AuditChainLink, links, LINK_COLUMNS)
            run.chained += len(rows)
            run.head = Head(top.seq + len(rows), previous, high)
        if checkpoints and checkpoint_due(run.head, now=stamp):
            run.checkpoints += make_checkpoint(now=stamp, quiet=True) is not None
    if (
        checkpoints
        and not run.busy
        and run.chained == 0
        and checkpoint_due(run.head, now=now or timezone.now())
    ):
        run.checkpoints += make_checkpoint(now=now, quiet=True) is not None
    return run


# --- checkpoints ------------------------------------------------------------------------------------------------


def statement(*, seq: int, head_hash: str, created_at: datetime) -> bytes:
    """The bytes a checkpoint signs: JCS of what it states."""
    return jcs(
        {
            "type": STATEMENT_TYPE,
            "version": 1,
            "seq": seq,
            "head": head_hash,
            "created_at": _instant(created_at),
            "hash": "SM3",
            "canonicalization": "RFC8785",
        }
    )


def checkpoint_due(top: Head, *, now: datetime) -> bool:
    if top.seq == 0:
        return False
    last = AuditCheckpoint.objects.order_by("-seq").values_list("seq", "created_at").first()
    if last is None:
        return True
    if top.seq <= last[0]:
        return False
    return top.seq - last[0] >= checkpoint_every() or now - last[1] >= timedelta(seconds=checkpoint_seconds())


def make_checkpoint(
    *, now: datetime | None = None, keys: Mapping[str, signing.SigningKey] | None = None, quiet: bool = False
) -> AuditCheckpoint | None:
    """Sign the current head (Ed25519 + SM2) unless it is already signed or the chain is empty.

    Raises :class:`~xueji.audit.signing.SigningKeyError` when the keys are missing or malformed, except with
    ``quiet`` (the sequencer), which logs it and goes on chaining: a missing key stops the checkpoints, never
    the chain."""
    try:
        keys = keys or signing.signing_keys()
    except signing.SigningKeyError as exc:
        if not quiet:
            raise
        logger.warning("audit checkpoint skipped: %s", exc.message)
        return None
    created = now or timezone.now()
    with transaction.atomic():
        if not _lock():
            return None
        top = head()
        if top.seq == 0 or AuditCheckpoint.objects.filter(seq__gte=top.seq).exists():
            return None
        message = statement(seq=top.seq, head_hash=top.hash, created_at=created)
        ed, sm = keys[signing.ED25519], keys[signing.SM2]
        return AuditCheckpoint.objects.create(
            seq=top.seq,
            head=top.hash,
            created_at=created,
            ed25519_key_id=ed.kid,
            ed25519_signature=ed.sign(message).hex(),
            sm2_key_id=sm.kid,
            sm2_signature=sm.sign(message).hex(),
        )


@dataclass(frozen=True)
class CheckpointRecord:
    """A checkpoint as stored or as exported (the verifier accepts both)."""

    seq: int
    head: str
    created_at: datetime
    ed25519_key_id: str
    ed25519_signature: str
    sm2_key_id: str
    sm2_signature: str
    source: str = "database"

    @classmethod
    def of(cls, cp: AuditCheckpoint) -> CheckpointRecord:
        return cls(
            cp.seq,
            cp.head,
            cp.created_at,
            cp.ed25519_key_id,
            cp.ed25519_signature,
            cp.sm2_key_id,
            cp.sm2_signature,
        )

    def signatures_valid(self, keys: Mapping[str, signing.PublicKey]) -> bool:
        message = statement(seq=self.seq, head_hash=self.head, created_at=self.created_at)
        return signing.signatures_valid(
            message,
            (
                (self.ed25519_key_id, self.ed25519_signature, signing.ED25519),
                (self.sm2_key_id, self.sm2_signature, signing.SM2),
            ),
            keys,
        )


def export_checkpoints(since_seq: int = 0) -> dict[str, Any]:
    """The checkpoints for the audit administrator's own records (JSON-ready): each with the exact statement
    signed, both signatures, and the public keys that verify them. No personal data: positions and hashes."""
    keys = signing.public_keys()
    items = []
    for cp in AuditCheckpoint.objects.filter(seq__gt=since_seq).order_by("seq"):
        message = statement(seq=cp.seq, head_hash=cp.head, created_at=cp.created_at)
        items.append(
            {
                "seq": cp.seq,
                "head": cp.head,
                "created_at": _instant(cp.created_at),
                "statement": message.decode(),
                "signatures": [
                    {"alg": "Ed25519", "kid": cp.ed25519_key_id, "value": cp.ed25519_signature},
                    {
                        "alg": "SM2",
                        "kid": cp.sm2_key_id,
                        "value": cp.sm2_signature,
                        "digest": "SM3",
                        "signer_id": signing.SM2_SIGNER_ID.decode(),
                    },
                ],
            }
        )
    return {
        "type": "xueji-audit-checkpoints",
        "version": 1,
        "chain": "hash(n) = SM3(hash(n-1) ‖ JCS(event)), hash(0) = 00…00",
        "keys": [key.as_dict() for key in keys.values()],
        "checkpoints": items,
    }


def parse_export(data: Mapping[str, Any]) -> list[CheckpointRecord]:
    """Checkpoints back from an export (a copy the audit administrator kept): raises ValueError if malformed."""
    records = []
    for item in data.get("checkpoints", []):
        sigs = {s.get("alg"): s for s in item.get("signatures", [])}
        created = datetime.strptime(item["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        records.append(
            CheckpointRecord(
                int(item["seq"]),
                str(item["head"]),
                created,
                str(sigs["Ed25519"]["kid"]),
                str(sigs["Ed25519"]["value"]),
                str(sigs["SM2"]["kid"]),
                str(sigs["SM2"]["value"]),
                source="export",
            )
        )
    return records


# --- verification -----------------------------------------------------------------------------------------------

MISSING = "missing"
MODIFIED = "modified"
REORDERED = "reordered"
INSERTED = "inserted"
REWRITTEN = "rewritten"
TRUNCATED = "truncated"
BAD_CHECKPOINT = "bad_checkpoint"
UNCHAINED = "unchained"

KIND_LABELS = {
    MISSING: "缺失（链节点或其审计事件被删除）",
    MODIFIED: "被篡改（审计事件或链节点内容与哈希不符）",
    REORDERED: "顺序被调换",
    INSERTED: "被插入伪造记录",
    REWRITTEN: "链被重算，与已签名的检查点不符",
    TRUNCATED: "链尾被截断（短于已签名的检查点）",
    BAD_CHECKPOINT: "检查点签名无效（伪造或被篡改）",
    UNCHAINED: "存在未入链的早期审计事件（疑似事后插入）",
}


@dataclass(frozen=True)
class Problem:
    kind: str
    seq: int | None  # the first bad chain position (None: an event outside the chain)
    event_id: int | None = None
    detail: str = ""

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]

    def describe(self) -> str:
        where = f"链序号 {self.seq}" if self.seq is not None else "链外"
        event = f"，审计事件 {self.event_id}" if self.event_id is not None else ""
        extra = f"（{self.detail}）" if self.detail else ""
        return f"{where}{event}：{self.label}{extra}"


@dataclass
class VerifyResult:
    checked: int = 0
    head: Head = EMPTY
    checkpoints: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        """The first problem in chain order (events outside the chain last)."""
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.seq is None, p.seq or 0))


def _links(after: int, limit: int) -> list[tuple[int, int, str]]:
    return list(
        AuditChainLink.objects.filter(seq__gt=after)
        .order_by("seq")
        .values_list("seq", "event_id", "hash")[:limit]
    )


def _events(ids: Iterable[int]) -> dict[int, tuple[Any, ...]]:
    wanted = list(ids)
    rows: dict[int, tuple[Any, ...]] = {}
    for start in range(0, len(wanted), 2000):
        for row in (
            AuditEvent.objects.filter(id__in=wanted[start : start + 2000]).order_by().values_list(*FIELDS)
        ):
            rows[row[0]] = row
    return rows


def _window(seq: int, size: int) -> list[tuple[int, int, str, tuple[Any, ...] | None]]:
    links = _links(seq - 1, size)
    events = _events(link[1] for link in links)
    return [(s, e, h, events.get(e)) for s, e, h in links]


def _classify(seq: int, previous: str, before_previous: str | None, window: int = 2000) -> Problem:
    """Why the link at ``seq`` does not follow from ``previous`` (the last good hash; ``before_previous`` the
    one before it). Looks ahead only here, on the failure path."""
    rows = _window(seq, window)
    _s, event_id, stored, event = rows[0]
    assert event is not None
    # A forged link with a well-computed hash spliced in just before: this one chains from the hash before it.
    if before_previous is not None and link_hash(before_previous, canonical(event)) == stored:
        prev_link = _links(seq - 2, 1)
        return Problem(INSERTED, seq - 1, prev_link[0][1] if prev_link else None)
    nxt = rows[1] if len(rows) > 1 else None
    after = rows[2] if len(rows) > 2 else None
    # A forged link spliced in: the next one chains straight from the last good hash, and the one after it
    # from the next one (so it is not a swap of two neighbours).
    if nxt is not None and nxt[3] is not None and link_hash(previous, canonical(nxt[3])) == nxt[2]:  # noqa: SIM102
        if after is None or (after[3] is not None and link_hash(nxt[2], canonical(after[3])) == after[2]):
            return Problem(INSERTED, seq, event_id)
    # Reordered: the event (or the link, or the content of an event) that belongs here sits further on.
    for later_seq, later_id, later_hash, later_event in rows[1:]:
        if later_event is None:
            continue
        later_canonical = canonical(later_event)
        if link_hash(previous, later_canonical) in (stored, later_hash):
            return Problem(REORDERED, seq, event_id, f"应在此位置的是链序号 {later_seq} 处的记录")
        moved = canonical((event_id, *later_event[1:]))  # the content of another event put under this id
        if link_hash(previous, moved) == stored:
            return Problem(REORDERED, seq, event_id, f"与审计事件 {later_id} 的内容互换")
    return Problem(MODIFIED, seq, event_id)


def verify_chain(
    *,
    extra_checkpoints: Iterable[CheckpointRecord] = (),
    batch: int = BATCH,
    now: datetime | None = None,
    keys: Mapping[str, signing.PublicKey] | None = None,
) -> VerifyResult:
    """Recompute the whole chain from the stored events and compare it with the stored links and with every
    checkpoint (stored, and ``extra_checkpoints`` from an export). Read-only. The first broken link stops the
    walk (what follows a break cannot be judged); checkpoint and out-of-chain findings are added."""
    result = VerifyResult()
    try:
        keys = dict(keys if keys is not None else signing.public_keys())
    except signing.SigningKeyError:
        keys = {}
    checkpoints: dict[int, list[CheckpointRecord]] = {}
    for record in [CheckpointRecord.of(cp) for cp in AuditCheckpoint.objects.order_by("seq")] + list(
        extra_checkpoints
    ):
        result.checkpoints += 1
        if record.signatures_valid(keys):
            checkpoints.setdefault(record.seq, []).append(record)
        else:
            result.problems.append(Problem(BAD_CHECKPOINT, record.seq, detail=f"来源：{record.source}"))
    previous, expected, last_good_checkpoint, high = GENESIS, 1, 0, 0
    before_previous: str | None = None
    seen: set[int] = set()
    broken = False
    while not broken:
        links = _links(expected - 1, batch)
        if not links:
            break
        events = _events(link[1] for link in links)
        for seq, event_id, stored in links:
            if seq != expected:
                result.problems.append(Problem(MISSING, expected, detail="链节点被删除"))
                broken = True
                break
            event = events.get(event_id)
            if event is None:
                result.problems.append(Problem(MISSING, seq, event_id, "审计事件被删除"))
                broken = True
                break
            if event_id in seen:
                result.problems.append(Problem(INSERTED, seq, event_id, "同一审计事件重复入链"))
                broken = True
                break
            computed = link_hash(previous, canonical(event))
            if computed != stored:
                result.problems.append(_classify(seq, previous, before_previous))
                broken = True
                break
            for record in checkpoints.get(seq, []):
                if record.head != computed:
                    result.problems.append(
                        Problem(
                            REWRITTEN,
                            seq,
                            detail=f"篡改发生在链序号 {last_good_checkpoint + 1} 至 {seq} 之间（来源：{record.source}）",
                        )
                    )
                    broken = True
            if broken:
                break
            if seq in checkpoints:
                last_good_checkpoint = seq
            seen.add(event_id)
            high = max(high, event_id)
            before_previous, previous, expected = previous, computed, expected + 1
            result.checked += 1
    result.head = Head(expected - 1, previous, high)
    if not broken and checkpoints and max(checkpoints) > result.head.seq:
        result.problems.append(
            Problem(TRUNCATED, result.head.seq + 1, detail=f"已签名检查点的链序号为 {max(checkpoints)}")
        )
    floor = settled_floor(head(), now or timezone.now())
    if not broken and floor is not None:
        chained = AuditChainLink.objects.filter(event_id=OuterRef("id"))
        stray = (
            AuditEvent.objects.filter(id__lte=floor)
            .filter(~Exists(chained))
            .order_by("id")
            .values_list("id", flat=True)
            .first()
        )
        if stray is not None:
            result.problems.append(Problem(UNCHAINED, None, stray))
    return result


def record_verification(result: VerifyResult) -> None:
    """The outcome of a verification as an audit event: ``audit.chain_verified``, or ``audit.chain_broken``
    (success False, the first problems by kind and position) for the early warning of 第23条 (security.md
    test 24). Positions and counts only, no personal data."""
    first = result.first
    record_event(
        event_type=EventType.AUDIT_CHAIN_VERIFIED if first is None else EventType.AUDIT_CHAIN_BROKEN,
        actor=None,
        subject_type="audit_chain",
        subject_id=first.seq if first is not None and first.seq is not None else result.head.seq,
        summary="审计链校验通过" if first is None else f"审计链校验发现问题：{first.kind}",
        after={
            "checked": result.checked,
            "head_seq": result.head.seq,
            "checkpoints": result.checkpoints,
            "problems": [[p.kind, p.seq, p.event_id] for p in result.problems[:20]],
        },
        success=first is None,
    )
