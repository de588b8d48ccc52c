"""Ctrl-C that waits while the main thread holds a study-database connection.

A ``KeyboardInterrupt`` raised while a query runs leaves the query's cursor alive in the
exception's traceback; SQLAlchemy then invalidates (closes) the connection, and SQLite keeps
a closed connection's locks until its last statement is finalised. The FAIL record Optuna
writes next for the interrupted trial then waited on a lock held by its own process, for
the whole busy timeout (``analogc.storage``: 120 s): Ctrl-C seemed to hang in about one
resumed search in three. Deferred to the moment the connection goes back to the pool, the
interrupt lands between queries, where nothing is left half-done.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any


class DeferredInterrupts:
    """Counts the connections the main thread has checked out of the engines it watches; a
    SIGINT arriving while it holds one is raised when the last of them is returned."""

    def __init__(self) -> None:
        self._held: set[int] = set()
        self._pending = False
        self._installed = False

    @property
    def pending(self) -> bool:
        return self._pending

    def watch(self, engine: Any) -> None:
        from sqlalchemy import event

        event.listen(engine, "checkout", self._checkout)
        for returned in ("checkin", "invalidate", "close"):
            event.listen(engine, returned, self._returned)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Defers SIGINT inside the block, when the block runs on the main thread and SIGINT
        has Python's default handler (not, e.g., a notebook's own)."""
        if (
            self._installed
            or threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
        ):
            yield
            return
        previous = signal.signal(signal.SIGINT, self._on_sigint)
        self._installed = True
        try:
            yield
        finally:
            self._installed = False
            signal.signal(signal.SIGINT, previous)
        if self._pending:  # the block ended before the connection went back
            self._pending = False
            raise KeyboardInterrupt

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self._held:
            self._pending = True
            return
        signal.default_int_handler(signum, frame)

    def _checkout(self, _dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            self._held.add(id(record))

    def _returned(self, _dbapi_connection: Any, record: Any, *_exc: Any) -> None:
        self._held.discard(id(record))
        if self._pending and not self._held and self._installed:
            self._pending = False
            signal.raise_signal(signal.SIGINT)  # handled once this event returns
