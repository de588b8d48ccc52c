"""Optuna storage that several analogc processes can share safely.

Two known SQLite problems bite when processes cooperate on one study file: creating the
schema races (``table ... already exists``), and SQLite ignores ``SELECT ... FOR UPDATE``, so
two workers can pop the same queued trial. For ``sqlite:///`` URLs the schema is created under
a file lock and every transaction starts with ``BEGIN IMMEDIATE`` (SQLAlchemy's documented
recipe for serialisable SQLite), which makes the trial queue atomic. Other URLs (PostgreSQL,
MySQL) go to Optuna unchanged.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

import optuna

SQLITE = "sqlite:///"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def open_storage(url: str | None) -> optuna.storages.BaseStorage | str | None:
    """The storage for ``url``; None keeps the study in memory."""
    if url is None or not url.startswith(SQLITE):
        return url
    from sqlalchemy import event

    db = Path(url[len(SQLITE) :])
    with _file_lock(db.with_name(db.name + ".lock")):
        storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})

    engine = storage.engine

    @event.listens_for(engine, "connect")
    def _no_pysqlite_transactions(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # connections made before the hooks existed would skip them
    return storage
