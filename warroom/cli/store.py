"""`warroom backup` and `warroom restore`: the store copied out and brought back
(docs/operations.md). Both talk to the store directly, not to the API.

Invariants: progress goes to stderr, the result (or `--json`) to stdout; neither command
makes a store that does not exist (backup refuses a missing source, restore writes only
the target it is given); the work itself is `warroom.db.backup`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from warroom.cli.output import emit_json
from warroom.settings import Settings


def _progress(label: str) -> Callable[[int, int], None]:
    last = {"shown": -1}

    def show(done: int, total: int) -> None:
        if total <= 0:
            click.echo(f"{label}...", err=True)
            return
        percent = done * 100 // total
        tenth = percent // 10
        if tenth != last["shown"]:
            last["shown"] = tenth
            click.echo(f"{label}: {percent}% ({done} of {total} pages)", err=True)

    return show


@click.command("backup")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="replace FILE if it exists")
@click.option("--json", "as_json", is_flag=True)
def backup(file: Path, force: bool, as_json: bool) -> None:
    """Write a consistent copy of the store (WARROOM_DATABASE_URL) to FILE while it runs:
    SQLite's online backup API, or pg_dump -Fc for PostgreSQL (needs postgresql-client)."""
    from warroom.db import backup as store_backup

    url = Settings.from_env().database_url
    try:
        done = store_backup.backup(url, file, force=force, progress=_progress("backup"))
    except store_backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        emit_json(done.to_dict())
    else:
        click.echo(
            f"backed up {store_backup.shown(url)} (schema {', '.join(done.revision) or 'none'}) "
            f"to {done.file} ({done.bytes} bytes)"
        )


@click.command("restore")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--to",
    "url",
    default=None,
    metavar="URL",
    help="the store to restore into [default: WARROOM_DATABASE_URL]",
)
@click.option("--force", is_flag=True, help="replace a store that is not empty")
@click.option("--json", "as_json", is_flag=True)
def restore(file: Path, url: str | None, force: bool, as_json: bool) -> None:
    """Bring the backup FILE back into a store and migrate it to this warroom's schema.
    Stop every warroom process using that store first."""
    from warroom.db import backup as store_backup
    from warroom.db.migrate import StoreTooNew, head_revisions

    target = url or Settings.from_env().database_url
    try:
        done = store_backup.restore(file, target, force=force, progress=_progress("restore"))
    except (store_backup.BackupError, StoreTooNew) as exc:
        raise click.ClickException(str(exc)) from exc
    body = done.to_dict() | {
        "store_url": store_backup.shown(target),
        "migrated_to": head_revisions(),
    }
    if as_json:
        emit_json(body)
    else:
        click.echo(
            f"restored {file} (schema {', '.join(done.revision)}) into "
            f"{store_backup.shown(target)}, migrated to {', '.join(head_revisions())}"
        )
