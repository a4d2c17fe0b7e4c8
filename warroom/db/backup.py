"""Backing a store up and bringing a copy back (`warroom backup` / `warroom restore`).

Invariants:
- A SQLite backup is one consistent snapshot of the store as it was when the backup
  began: the online backup API copies the pages while this module holds a read
  transaction on the source, so writers (WAL) go on and nothing they commit afterwards,
  or half of it, reaches the copy. It is never a file copy.
- A PostgreSQL backup is `pg_dump -Fc` (one snapshot by construction); restore is
  `pg_restore` in a single transaction, so a failed restore leaves the database as
  `--force` emptied it, never half-restored.
- The backup file appears under its name only once it is complete (written to a
  temporary name beside it, then renamed).
- Restore never overwrites a store that holds tables unless `force`, and never brings
  back a copy made by a newer warroom (StoreTooNew, before anything is written). The
  restored store is then migrated up to this warroom's schema.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url

from warroom.db.migrate import StoreTooNew, head_revisions, unknown_revisions, upgrade
from warroom.db.session import Database, WriterQueue

# progress(done, total): pages copied of the store's pages (SQLite); PostgreSQL calls it
# once at the start (0, 0) and once at the end.
Progress = Callable[[int, int], None]
STEP_PAGES = 1024  # pages copied per step of the backup API (4 MiB at 4 KiB pages)
SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
PG_CLIENT_PACKAGE = "postgresql-client"


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says what and why."""


@dataclass(frozen=True)
class Result:
    store: str  # "sqlite" | "postgresql"
    file: str
    bytes: int
    revision: list[str]  # the schema revision of the copy (before migrating, for restore)

    def to_dict(self) -> dict[str, object]:
        return {
            "store": self.store,
            "file": self.file,
            "bytes": self.bytes,
            "revision": self.revision,
        }


def shown(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return repr(url)


def _sqlite_path(url: URL) -> Path:
    path = url.database or ""
    if not path or path == ":memory:":
        raise BackupError(f"{url.render_as_string()} is an in-memory store: there is no file")
    return Path(path)


def _kind(url: str) -> tuple[str, URL]:
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise BackupError(
            f"{url!r} is not a store URL (sqlite:///FILE or postgresql://...)"
        ) from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"{shown(url)}: warroom stores are SQLite or PostgreSQL, not {backend}")
    return backend, parsed


def _temp_beside(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.partial-{os.getpid()}")


def _check_dest(dest: Path, force: bool) -> None:
    if dest.exists() and not force:
        raise BackupError(f"{dest} exists already; pass --force to replace it")
    if not dest.parent.is_dir():
        raise BackupError(f"{dest.parent} is not a directory")


def backup(
    url: str, dest: Path, *, force: bool = False, progress: Progress | None = None
) -> Result:
    """Writes a consistent copy of the store at `url` to `dest`. Raises BackupError."""
    kind, parsed = _kind(url)
    _check_dest(dest, force)
    if kind == "sqlite":
        return _backup_sqlite(_sqlite_path(parsed), dest, progress)
    return _backup_pg(url, parsed, dest, progress)


def _revisions(conn: sqlite3.Connection) -> list[str]:
    has = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if not has:
        return []
    return sorted(str(r[0]) for r in conn.execute("SELECT version_num FROM alembic_version"))


def _backup_sqlite(src_path: Path, dest: Path, progress: Progress | None) -> Result:
    if not src_path.is_file():
        raise BackupError(f"there is no SQLite store at {src_path}")
    if dest.resolve() == src_path.resolve():
        raise BackupError(f"{dest} is the store itself; back it up to another file")
    tmp = _temp_beside(dest)
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(src_path, isolation_level=None)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        # The snapshot: a read transaction held on the source connection across every
        # step, so the backup never restarts however much is written meanwhile.
        src.execute("BEGIN")
        revision = _revisions(src)
        out = sqlite3.connect(tmp, isolation_level=None)
        try:

            def step(_status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            src.backup(out, pages=STEP_PAGES, progress=step)
            # One self-contained file, whatever journal mode the store uses.
            out.execute("PRAGMA journal_mode=DELETE")
            check = out.execute("PRAGMA quick_check").fetchone()
            if not check or check[0] != "ok":
                raise BackupError(f"the copy failed its integrity check: {check}")
        finally:
            out.close()
        src.execute("COMMIT")
    except sqlite3.Error as exc:
        tmp.unlink(missing_ok=True)
        raise BackupError(f"cannot back up {src_path}: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    os.replace(tmp, dest)
    return Result("sqlite", str(dest), dest.stat().st_size, revision)


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed: install the package {PG_CLIENT_PACKAGE} (e.g. "
            f"`apt install {PG_CLIENT_PACKAGE}`), at the PostgreSQL server's major version "
            "or newer"
        )
    return found


def _libpq(parsed: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment that carries it
    (so it never shows in the process list)."""
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    conninfo = parsed.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False
    )
    return conninfo, env


def _run(args: list[str], env: dict[str, str], what: str) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = "; ".join(lines[-3:]) or f"exit status {done.returncode}"
        raise BackupError(f"{what} failed: {reason}")


def _pg_revisions(url: str) -> list[str]:
    from warroom.db.migrate import store_revisions

    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return store_revisions(conn)
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise BackupError(f"cannot open the store {shown(url)}: {reason}") from exc
    finally:
        db.dispose()


def _backup_pg(url: str, parsed: URL, dest: Path, progress: Progress | None) -> Result:
    pg_dump = _pg_tool("pg_dump")
    revision = _pg_revisions(url)
    conninfo, env = _libpq(parsed)
    tmp = _temp_beside(dest)
    tmp.unlink(missing_ok=True)
    if progress is not None:
        progress(0, 0)
    try:
        _run([pg_dump, "-Fc", "--no-owner", "-f", str(tmp), "-d", conninfo], env, "pg_dump")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)
    size = dest.stat().st_size
    if progress is not None:
        progress(size, size)
    return Result("postgresql", str(dest), size, revision)


def _magic(src: Path) -> bytes:
    try:
        with src.open("rb") as f:
            return f.read(16)
    except OSError as exc:
        raise BackupError(f"cannot read {src}: {exc.strerror or exc}") from exc


def restore(
    src: Path, url: str, *, force: bool = False, progress: Progress | None = None
) -> Result:
    """Brings the backup `src` back into the store at `url`, then migrates it to this
    warroom's schema. Refuses a store that holds tables unless `force`. Raises BackupError
    or StoreTooNew (for a copy made by a newer warroom)."""
    kind, parsed = _kind(url)
    magic = _magic(src)
    if kind == "sqlite":
        if not magic.startswith(SQLITE_MAGIC):
            what = "a PostgreSQL dump" if magic.startswith(PGDUMP_MAGIC) else "not a SQLite backup"
            raise BackupError(f"{src} is {what}; restore it into a store of its kind")
        result = _restore_sqlite(src, _sqlite_path(parsed), force, progress)
    else:
        if not magic.startswith(PGDUMP_MAGIC):
            what = "a SQLite backup" if magic.startswith(SQLITE_MAGIC) else "not a pg_dump -Fc file"
            raise BackupError(f"{src} is {what}; restore it into a store of its kind")
        result = _restore_pg(src, url, parsed, force, progress)
    db = Database(url)
    try:
        upgrade(db.engine)
    finally:
        db.dispose()
    return result


def _restore_sqlite(src: Path, target: Path, force: bool, progress: Progress | None) -> Result:
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, isolation_level=None)
    try:
        try:
            revision = _revisions(source)
        except sqlite3.Error as exc:
            raise BackupError(f"{src} is not a readable SQLite backup: {exc}") from exc
        if not revision:
            raise BackupError(f"{src} holds no warroom store (no alembic_version table)")
        if unknown_revisions(revision):
            raise StoreTooNew(revision, head_revisions())
        if not target.parent.is_dir():
            raise BackupError(f"{target.parent} is not a directory")
        # A warroom process writing this file on this host waits while the copy goes in.
        writers = WriterQueue(str(target))
        writers.acquire()
        try:
            out = sqlite3.connect(target, isolation_level=None)
            try:
                out.execute("PRAGMA busy_timeout=30000")
                tables = out.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
                ).fetchone()[0]
                if tables and not force:
                    raise BackupError(
                        f"{target} is not empty ({tables} tables); pass --force to replace "
                        "it with the backup"
                    )

                def step(_status: int, remaining: int, total: int) -> None:
                    if progress is not None:
                        progress(total - remaining, total)

                source.backup(out, pages=STEP_PAGES, progress=step)
            finally:
                out.close()
        finally:
            writers.release()
    except sqlite3.Error as exc:
        raise BackupError(f"cannot restore {src} into {target}: {exc}") from exc
    finally:
        source.close()
    return Result("sqlite", str(target), target.stat().st_size, revision)


def _dump_revisions(pg_restore: str, src: Path) -> list[str]:
    """The alembic_version rows inside a pg_dump -Fc file, read without restoring it."""
    done = subprocess.run(
        [pg_restore, "--data-only", "--table=alembic_version", "-f", "-", str(src)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        reason = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise BackupError(f"{src} is not a readable pg_dump -Fc file: {reason[0]}")
    revisions, copying = [], False
    for line in done.stdout.splitlines():
        if line.startswith("COPY ") and "alembic_version" in line:
            copying = True
        elif copying and line == "\\.":
            copying = False
        elif copying and line.strip():
            revisions.append(line.strip())
    return sorted(revisions)


def _restore_pg(src: Path, url: str, parsed: URL, force: bool, progress: Progress | None) -> Result:
    pg_restore = _pg_tool("pg_restore")
    revision = _dump_revisions(pg_restore, src)
    if not revision:
        raise BackupError(f"{src} holds no warroom store (no alembic_version rows)")
    if unknown_revisions(revision):
        raise StoreTooNew(revision, head_revisions())
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            tables = inspect(conn).get_table_names()
            if tables and not force:
                raise BackupError(
                    f"{shown(url)} is not empty ({len(tables)} tables); pass --force to "
                    "replace it with the backup"
                )
        if tables:
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
    except BackupError:
        raise
    except Exception as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise BackupError(f"cannot open the store {shown(url)}: {reason}") from exc
    finally:
        db.dispose()
    conninfo, env = _libpq(parsed)
    size = src.stat().st_size
    if progress is not None:
        progress(0, size)
    _run(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            "-d",
            conninfo,
            str(src),
        ],
        env,
        "pg_restore",
    )
    if progress is not None:
        progress(size, size)
    return Result("postgresql", shown(url), size, revision)
