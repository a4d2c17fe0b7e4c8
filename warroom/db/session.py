"""Engine and session factory for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


class WriterQueue:
    """Orders the writers of one SQLite file: a thread lock inside the process and,
    for a file store, an flock on `<file>.writers` across processes (several
    `warroom serve` workers on one file). Reentrant per thread."""

    def __init__(self, database: str | None) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self._fd: int | None = None
        self._path = f"{database}.writers" if database and database != ":memory:" else None

    def acquire(self) -> None:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            self._lock.acquire()
            if self._path is not None:
                try:
                    if self._fd is None:
                        self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                    fcntl.flock(self._fd, fcntl.LOCK_EX)
                except BaseException:
                    self._lock.release()
                    raise
        self._local.depth = depth + 1

    def release(self) -> None:
        depth = getattr(self._local, "depth", 0)
        if depth <= 0:
            return
        self._local.depth = depth - 1
        if depth == 1:
            if self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._lock.release()


def make_engine(url: str, **kwargs: Any) -> Engine:
    if is_sqlite(url):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=16,
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy manage transactions; BEGIN IMMEDIATE takes the write lock
            # up front, so concurrent writers queue instead of failing on upgrade.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        # Writers queue in order on one lock before asking SQLite for its write lock;
        # otherwise they poll SQLite's busy handler, whose sleeps of up to 100 ms let
        # later writers overtake earlier ones (second-long tails).
        writers = WriterQueue(engine.url.database)

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Reads take no lock (WAL); writes take the write lock up front.
            readonly = conn.get_execution_options().get("warroom_readonly", False)
            if not readonly:
                writers.acquire()
                conn.info["warroom_writer"] = conn.info.get("warroom_writer", 0) + 1
            try:
                conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")
            except BaseException:
                _release(conn)
                raise

        def _release(conn: Any) -> None:
            held = conn.info.get("warroom_writer", 0)
            if held:
                conn.info["warroom_writer"] = held - 1
                writers.release()

        event.listen(engine, "commit", _release)
        event.listen(engine, "rollback", _release)

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, **kwargs)


class Database:
    """Owns the engine; hands out sessions whose transaction commits on success."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = sessionmaker(
            self.engine.execution_options(warroom_readonly=True), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only: on SQLite it never waits for the write lock."""
        session = self.read_sessionmaker()
        try:
            yield session
            session.rollback()
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
