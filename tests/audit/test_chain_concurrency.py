"""Chaining does not serialise the system (issue 11 §2), on PostgreSQL with real parallel connections: audit
inserts commit while a sequencer transaction is open, a second sequencer does not wait for the first, and an
event committed late (a lower id, after higher ids were chained) still gets a position."""

from __future__ import annotations

import threading
import time
from unittest import mock

import pytest
from django.db import connection, connections, transaction

from xueji.audit import chain
from xueji.audit.enums import EventType
from xueji.audit.models import AuditChainLink, AuditEvent
from xueji.audit.services import record

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():  # type: ignore[no-untyped-def]
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL for parallel writers (run with DATABASE_URL=postgres://…)")


def _login(k: int) -> AuditEvent:
    return record(event_type=EventType.LOGIN, actor=None, subject_type="user", subject_id=k)


def test_inserts_commit_while_the_sequencer_holds_its_transaction():
    for k in range(50):
        _login(k)
    inside, release = threading.Event(), threading.Event()
    real_insert = chain.insert_rows
    outcome: dict[str, object] = {}

    def slow_insert(*args, **kwargs):  # type: ignore[no-untyped-def]
        count = real_insert(*args, **kwargs)
        inside.set()
        release.wait(20)  # the sequencer's transaction stays open (lock held, links uncommitted)
        return count

    def sequencer() -> None:
        try:
            with mock.patch.object(chain, "insert_rows", slow_insert):
                outcome["first"] = chain.chain_pending(checkpoints=False)
        finally:
            connections.close_all()

    thread = threading.Thread(target=sequencer)
    thread.start()
    try:
        assert inside.wait(20)
        started = time.perf_counter()
        with transaction.atomic():
            late = _login(999)
        assert time.perf_counter() - started < 2.0  # no wait on the sequencer
        busy = chain.chain_pending(checkpoints=False)  # a second sequencer: lock taken, returns at once
        assert busy.busy and busy.chained == 0
    finally:
        release.set()
        thread.join(30)
    first = outcome["first"]
    assert not first.busy and first.chained >= 50  # type: ignore[attr-defined]
    chain.chain_pending(checkpoints=False)  # (the first run's next batch may already have taken it)
    assert AuditChainLink.objects.get(event_id=late.pk).seq == AuditEvent.objects.count()
    assert chain.verify_chain().ok


def test_event_committed_late_gets_a_later_position():
    """A transaction takes an id, a later one commits and is chained, then the first commits: it is chained
    next, with a higher position than the higher id."""
    gate, done = threading.Event(), threading.Event()
    ids: dict[str, int] = {}

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                ids["slow"] = _login(1).pk
                gate.set()
                done.wait(20)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert gate.wait(20)
    ids["fast"] = _login(2).pk
    assert ids["fast"] > ids["slow"]
    chain.chain_pending(checkpoints=False)
    fast_seq = AuditChainLink.objects.get(event_id=ids["fast"]).seq
    done.set()
    thread.join(30)
    chain.chain_pending(checkpoints=False)
    assert AuditChainLink.objects.get(event_id=ids["slow"]).seq > fast_seq
    assert chain.verify_chain().ok
