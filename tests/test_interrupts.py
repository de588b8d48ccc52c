"""Ctrl-C during a search on SQLite: deferred while the main thread holds a connection."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from analogc.interrupts import DeferredInterrupts
from analogc.storage import open_storage


@pytest.fixture
def default_sigint() -> None:
    """Python's own SIGINT handler, which the deferral replaces only when it finds it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def sigint_now() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    signal.pthread_sigmask(signal.SIG_BLOCK, [])  # a syscall: lets the handler run promptly


def test_ctrl_c_inside_a_query_is_raised_once_the_connection_is_returned(
    tmp_path: Path, default_sigint: None
) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/study.db")
    engine = storage.optuna.engine  # type: ignore[union-attr]
    reached_end_of_query = False
    with pytest.raises(KeyboardInterrupt), storage.deferring_interrupts():
        with engine.connect() as connection:
            connection.execute(text("SELECT 1")).fetchall()
            sigint_now()
            connection.execute(text("SELECT 2")).fetchall()
            reached_end_of_query = True
        pytest.fail("the interrupt was not raised when the connection went back")
    assert reached_end_of_query, "the interrupt landed while a connection was held"
    # the database is not locked by a half-closed connection: another one writes at once
    with sqlite3.connect(tmp_path / "study.db", timeout=0.5) as other:
        other.execute("CREATE TABLE written_after_ctrl_c (x)")


def test_ctrl_c_between_queries_is_raised_at_once(tmp_path: Path, default_sigint: None) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/study.db")
    with pytest.raises(KeyboardInterrupt), storage.deferring_interrupts():
        sigint_now()
        pytest.fail("not raised at once although no connection was held")


def test_the_handler_is_restored_and_a_late_interrupt_still_raised(default_sigint: None) -> None:
    interrupts = DeferredInterrupts()
    with pytest.raises(KeyboardInterrupt), interrupts.installed():
        interrupts._held.add(1)  # a connection the block never returned
        sigint_now()
        assert interrupts.pending
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_foreign_sigint_handler_is_left_alone(tmp_path: Path) -> None:
    calls: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: calls.append(signum))
    try:
        storage = open_storage(f"sqlite:///{tmp_path}/study.db")
        with storage.deferring_interrupts():
            assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
            sigint_now()
        assert calls == [signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_connections_of_other_threads_do_not_defer(tmp_path: Path, default_sigint: None) -> None:
    storage = open_storage(f"sqlite:///{tmp_path}/study.db")
    engine = storage.optuna.engine  # type: ignore[union-attr]
    held, release = threading.Event(), threading.Event()

    def heartbeat() -> None:
        with engine.connect():
            held.set()
            release.wait(10)

    thread = threading.Thread(target=heartbeat)
    thread.start()
    try:
        held.wait(10)
        with pytest.raises(KeyboardInterrupt), storage.deferring_interrupts():
            sigint_now()
            pytest.fail("deferred for a connection the main thread does not hold")
    finally:
        release.set()
        thread.join()
