"""Optuna storage that several analogc processes (workers) can share safely.

Two kinds of URL: ``sqlite:///PATH`` (workers on one machine) and ``postgresql://...``
(workers on any number of machines; psycopg 3, ``pip install 'analogc[postgres]'``; plain
``postgresql://`` and ``postgres://`` mean ``postgresql+psycopg://``).

What sharing needs beyond what Optuna does by itself:

- **Schema creation** races when workers start together (``table ... already exists``): it runs
  under a lock (SQLite: ``flock`` on the database's folder, so no lock file is left behind;
  PostgreSQL: an advisory lock).
- **SQLite ignores** ``SELECT ... FOR UPDATE``, so two workers could pop the same queued trial:
  every transaction starts with ``BEGIN IMMEDIATE`` (SQLAlchemy's documented recipe for
  serialisable SQLite), which makes the trial queue atomic.
- **A per-study mutex** (:meth:`SharedStorage.lock`) for the few steps that must be atomic across
  workers: the setup, claiming a configuration before evaluating it, enqueueing trials.
- **Heartbeats**: a worker that dies leaves a RUNNING trial. Each worker records a heartbeat
  for its trial every ``heartbeat_s`` seconds; after ``GRACE_BEATS`` missed beats another
  worker fails it and enqueues a retry (``RetryHeartbeatStaleTrialCallback``), under the
  study mutex (:meth:`SharedStorage.stale_checks`): Optuna would otherwise do it at the start
  of any trial, unlocked, and a worker checking whether the study is finished could look in
  between the failure and the retry's enqueueing and see neither.
- **Ctrl-C** on SQLite waits until the main thread has returned its connection
  (:mod:`analogc.interrupts`): raised inside a query, it left a closed connection holding
  its lock, and the interrupted trial's FAIL record waited on it. PostgreSQL releases a
  closed connection's locks at once, and its advisory lock holds a connection for a whole
  setup, so it is not deferred there.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna

from analogc.errors import StorageError
from analogc.interrupts import DeferredInterrupts

SQLITE = "sqlite:///"
POSTGRES_DRIVER = "postgresql+psycopg"
_POSTGRES_ALIASES = ("postgresql://", "postgres://")
GRACE_BEATS = 3
"""A trial whose worker missed this many heartbeats in a row is failed and retried."""
RETRIES = 1
"""How often the trial of a dead worker is retried (a configuration that kills every worker
that evaluates it must not take them all down)."""
_CONNECT_TIMEOUT_S = 10


def postgres_url(url: str) -> str:
    """``url`` with plain ``postgresql://``/``postgres://`` mapped to the psycopg 3 dialect."""
    for alias in _POSTGRES_ALIASES:
        if url.startswith(alias):
            return f"{POSTGRES_DRIVER}://{url[len(alias) :]}"
    return url


def display_url(url: str | None) -> str | None:
    """``url`` without its password, for logs and reports."""
    if url is None or url.startswith(SQLITE):
        return url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1]


class SharedStorage:
    """An Optuna storage plus the per-study mutex that analogc workers sharing it take."""

    def __init__(
        self,
        optuna_storage: optuna.storages.BaseStorage | None,
        url: str | None,
        acquire: Callable[[str, Callable[[], None]], contextlib.AbstractContextManager[None]],
        interrupts: DeferredInterrupts | None = None,
    ) -> None:
        self.optuna = optuna_storage
        self._interrupts = interrupts
        self.url = display_url(url)
        self._acquire = acquire
        self._thread_lock = threading.RLock()
        self._depth = 0

    def deferring_interrupts(self) -> contextlib.AbstractContextManager[None]:
        """Where Ctrl-C waits until the main thread has returned its database connection
        (SQLite: see :mod:`analogc.interrupts`)."""
        if self._interrupts is None:
            return contextlib.nullcontext()
        return self._interrupts.installed()

    def stale_checks(self) -> contextlib.AbstractContextManager[None]:
        """Where Optuna may look for (and fail) trials whose heartbeat stopped: only here,
        under the study mutex (see the module)."""
        if isinstance(self.optuna, LockedStaleChecks):
            return self.optuna.allowed()
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def lock(self, study_name: str, on_wait: Callable[[], None] = lambda: None) -> Iterator[None]:
        """Excludes every other worker on this study; re-entrant within one thread.

        ``on_wait`` is called once if another worker holds the lock (before blocking)."""
        with self._thread_lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            with self._acquire(study_name, on_wait):
                self._depth = 1
                try:
                    yield
                finally:
                    self._depth = 0

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
        """Turns a lost database connection into a one-line :class:`StorageError`."""
        from sqlalchemy.exc import OperationalError

        try:
            yield
        except OperationalError as exc:
            raise StorageError(f"lost the study storage {self.url}: {_reason(exc)}") from exc


def open_storage(url: str | None, *, heartbeat_s: int = 10) -> SharedStorage:
    """The storage for ``url`` (None: in memory, one process), with heartbeats every
    ``heartbeat_s`` seconds for the trials of the workers sharing it."""
    if url is None:
        return SharedStorage(None, None, lambda _name, _wait: contextlib.nullcontext())
    if url.startswith(SQLITE):
        return _open_sqlite(url, heartbeat_s)
    url = postgres_url(url)
    if url.startswith("postgresql"):
        return _open_postgres(url, heartbeat_s)
    scheme = url.split(":", 1)[0]
    raise StorageError(
        f"--storage {scheme}:... is not supported: analogc workers share a study through "
        "sqlite:///PATH (one machine) or postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
    )


def _heartbeat(heartbeat_s: int) -> dict[str, Any]:
    if heartbeat_s < 1:
        raise StorageError(f"--heartbeat must be at least 1 second, got {heartbeat_s}")
    return {
        "heartbeat_interval": int(heartbeat_s),
        "grace_period": GRACE_BEATS * int(heartbeat_s),
        "heartbeat_stale_trial_callback": retry_stale_trial(),
    }


def retry_stale_trial() -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    """Optuna's callback that enqueues a failed trial's configuration again (``RETRIES`` times)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=RETRIES)


class LockedStaleChecks(optuna.storages.RDBStorage):
    """An RDB storage that reports stale trials (``BaseHeartbeat._get_stale_trial_ids``, what
    ``optuna.storages.fail_stale_trials`` asks) only inside :meth:`allowed`, which analogc
    enters under the study mutex; Optuna's own check at the start of every trial finds none."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stale_allowed = threading.local()

    @contextlib.contextmanager
    def allowed(self) -> Iterator[None]:
        self._stale_allowed.on = True
        try:
            yield
        finally:
            self._stale_allowed.on = False

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        del state["_stale_allowed"]  # a thread-local: not picklable, and per process anyway
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        self._stale_allowed = threading.local()

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        if not getattr(self._stale_allowed, "on", False):
            return []
        return super()._get_stale_trial_ids(study_id)


def _rdb_storage(url: str, heartbeat_s: int, **engine_kwargs: Any) -> optuna.storages.RDBStorage:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return LockedStaleChecks(url, engine_kwargs=engine_kwargs, **_heartbeat(heartbeat_s))


# --- SQLite -----------------------------------------------------------------------------------


@contextlib.contextmanager
def _folder_lock(folder: Path, on_wait: Callable[[], None] = lambda: None) -> Iterator[None]:
    """``flock`` on the folder itself: no lock file to leave behind, and independent of the
    POSIX record locks SQLite takes on the database file."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _open_sqlite(url: str, heartbeat_s: int) -> SharedStorage:
    from sqlalchemy import event

    folder = Path(url[len(SQLITE) :]).resolve().parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create the folder of {url}: {exc.strerror}") from exc
    with _folder_lock(folder):
        storage = _rdb_storage(url, heartbeat_s, connect_args={"timeout": 120})

    engine = storage.engine

    @event.listens_for(engine, "connect")
    def _no_pysqlite_transactions(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections made before the hooks existed would skip them
    interrupts = DeferredInterrupts()
    interrupts.watch(engine)
    return SharedStorage(
        storage, url, lambda _name, on_wait: _folder_lock(folder, on_wait), interrupts
    )


# --- PostgreSQL -------------------------------------------------------------------------------


def _advisory_key(name: str) -> int:
    """A signed 64-bit key for ``pg_advisory_xact_lock``, one per study."""
    digest = hashlib.sha256(f"analogc:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_SCHEMA_KEY = _advisory_key("/schema")


@contextlib.contextmanager
def _advisory_lock(engine: Any, key: int, on_wait: Callable[[], None]) -> Iterator[None]:
    """A transaction-scoped advisory lock: released at commit, rollback, or when the worker's
    connection dies, so a killed worker never leaves it held."""
    from sqlalchemy import text

    with engine.begin() as connection:
        got = connection.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})
        if not got.scalar():
            on_wait()
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
        yield


def _open_postgres(url: str, heartbeat_s: int) -> SharedStorage:
    import sqlalchemy
    from sqlalchemy.exc import ArgumentError, DBAPIError
    from sqlalchemy.pool import NullPool

    shown = display_url(url)
    if url.startswith(f"{POSTGRES_DRIVER}://"):
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise StorageError(
                f"--storage {shown} needs the PostgreSQL driver psycopg: "
                "pip install 'analogc[postgres]'"
            ) from exc
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"--storage {shown} is not a valid database URL") from exc
    connect_args = (
        {} if "connect_timeout" in parsed.query else {"connect_timeout": _CONNECT_TIMEOUT_S}
    )
    try:
        bootstrap = sqlalchemy.create_engine(url, poolclass=NullPool, connect_args=connect_args)
        try:
            with _advisory_lock(bootstrap, _SCHEMA_KEY, lambda: None):
                storage = _rdb_storage(
                    url, heartbeat_s, pool_pre_ping=True, connect_args=connect_args
                )
        finally:
            bootstrap.dispose()
    except ImportError as exc:
        raise StorageError(f"--storage {shown}: cannot import its database driver: {exc}") from exc
    except DBAPIError as exc:
        raise StorageError(f"cannot open the study storage {shown}: {_reason(exc)}") from exc
    engine = storage.engine
    return SharedStorage(
        storage,
        url,
        lambda name, on_wait: _advisory_lock(engine, _advisory_key(name), on_wait),
    )


def _reason(exc: BaseException) -> str:
    """The driver's first line (``connection refused``, ``password authentication failed``)."""
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__
