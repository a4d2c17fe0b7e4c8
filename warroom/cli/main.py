"""The `warroom` command."""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from warroom.cli.admin import apply, audit, example, export, service, token_list, token_revoke, user
from warroom.cli.alerts import alert, change, integration, silence
from warroom.cli.heartbeat import heartbeat
from warroom.cli.incident import incident
from warroom.cli.oncall import oncall
from warroom.cli.output import emit_json
from warroom.cli.paging import contact, escalation, page
from warroom.cli.postmortem import action, postmortem
from warroom.cli.report import report
from warroom.cli.slo import slo
from warroom.cli.status import status
from warroom.cli.store import backup, restore
from warroom.cli.triage import triage
from warroom.settings import (
    Settings,
    SettingsError,
    default_base_url,
    outbound_allow,
    ready_max_lag_seconds,
)
from warroom.settings import public_url as configured_public_url

if TYPE_CHECKING:
    from warroom.config.loader import Loaded
    from warroom.core.clock import Clock
    from warroom.db.session import Database
    from warroom.org.service import Bootstrap


def _store_is_new(url: str) -> bool:
    """True when `url` names a store warroom has never set up: a SQLite file that does not
    exist yet, or a database without warroom's schema."""
    from sqlalchemy import create_engine, inspect
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        return bool(path) and path != ":memory:" and not Path(path).exists()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return not inspect(conn).has_table("alembic_version")
    finally:
        engine.dispose()


def _open_store(clock: Clock | None = None, *, create: bool = True) -> tuple[Database, Bootstrap]:
    """Opens (and migrates) the store and says which one on stderr, or stops with a readable
    message. Unless `create`, a store that does not exist yet is refused: a command run in
    the wrong folder must not make an empty `warroom.db` and a token no server knows."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from warroom.db.migrate import StoreTooNew
    from warroom.runtime import open_store

    url = Settings.from_env().database_url
    try:
        shown_url = make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        shown_url = repr(url)
    try:
        if not create and _store_is_new(url):
            raise click.ClickException(
                f"there is no warroom store at {shown_url} (WARROOM_DATABASE_URL; relative SQLite "
                f"paths are from {Path.cwd()}). Point WARROOM_DATABASE_URL at the store the "
                "server uses, or pass --create to make a new, empty one"
            )
        opened = open_store(url, clock)
        click.echo(f"warroom store: {shown_url}", err=True)
        return opened
    except StoreTooNew as exc:
        raise click.ClickException(f"refusing the store {shown_url}: {exc}") from exc
    except SQLAlchemyError as exc:
        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except SQLAlchemyError:
            shown = repr(url)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise click.ClickException(
            f"cannot open the store {shown} (WARROOM_DATABASE_URL): {reason}"
        ) from exc


@click.group()
@click.version_option(package_name="warroom")
def main() -> None:
    """warroom: incident response from alert to postmortem.

    The API commands read WARROOM_URL (default http://127.0.0.1:8080) and
    WARROOM_TOKEN; `serve`, `engine` and `token create` open the store named by
    WARROOM_DATABASE_URL (default: ./warroom.db).
    """


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _tls_files(cert: Path | None, key: Path | None) -> tuple[str, str] | None:
    """The certificate and key files for HTTPS, checked before anything starts: both or
    neither flag, each a readable file, and the two a matching pair."""
    import ssl

    if cert is None and key is None:
        return None
    if cert is None or key is None:
        given, missing = (
            ("--tls-key", "--tls-cert") if cert is None else ("--tls-cert", "--tls-key")
        )
        raise click.UsageError(f"{given} needs {missing} too")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        try:
            with path.open("rb") as f:
                f.read(1)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot read {str(path)!r}: {exc.strerror or exc}", param_hint=f"'{flag}'"
            ) from exc
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        raise click.BadParameter(
            f"{str(cert)!r} and {str(key)!r} are not a PEM certificate and its private key "
            f"({exc.reason or exc})",
            param_hint="'--tls-cert' / '--tls-key'",
        ) from exc
    return str(cert), str(key)


def _check_public_url(url: str | None) -> None:
    """Puts --public-url into WARROOM_PUBLIC_URL (server processes inherit it) once it is
    an http(s) URL; checks WARROOM_PUBLIC_URL itself when the flag is not given."""
    import os

    before = os.environ.get("WARROOM_PUBLIC_URL")
    if url is not None:
        os.environ["WARROOM_PUBLIC_URL"] = url
    try:
        configured_public_url()
    except SettingsError as exc:
        # A refused value is not left behind for what runs later in this process.
        if before is None:
            os.environ.pop("WARROOM_PUBLIC_URL", None)
        else:
            os.environ["WARROOM_PUBLIC_URL"] = before
        hint = "'--public-url'" if url is not None else None
        raise click.BadParameter(str(exc), param_hint=hint) from exc


def _demo_config() -> Loaded:
    from warroom.config.loader import ConfigFileError
    from warroom.demo import DemoMissing, example_config

    try:
        return example_config()
    except (DemoMissing, ConfigFileError) as exc:
        raise click.ClickException(f"cannot load the demo organisation: {exc}") from exc


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option(
    "--no-engine", is_flag=True, help="serve API and web only (run `warroom engine` apart)"
)
@click.option(
    "--demo", is_flag=True, help="load the sample organisation (`warroom example` has its files)"
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="server processes sharing the port (the engine runs once, in the parent)",
)
@click.option(
    "--tls-cert",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="serve HTTPS with this PEM certificate (chain); needs --tls-key",
)
@click.option(
    "--tls-key",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="the PEM private key of --tls-cert",
)
@click.option(
    "--public-url",
    default=None,
    metavar="URL",
    help="the address people and monitoring reach warroom at (behind a proxy): links in "
    "pages, emails and the status page start with it [env: WARROOM_PUBLIC_URL]",
)
def serve(
    host: str,
    port: int,
    no_engine: bool,
    demo: bool,
    workers: int,
    tls_cert: Path | None,
    tls_key: Path | None,
    public_url: str | None,
) -> None:
    """Migrate the store and serve the API, the web pages and (by default) the engine."""
    import os

    import uvicorn

    from warroom.app import create_app
    from warroom.auth.service import create_token
    from warroom.core.clock import SystemClock
    from warroom.engine.worker import start_engine, stop_engine
    from warroom.org.service import user_by_name

    # Checked before anything starts: no store is opened with a broken flag.
    tls = _tls_files(tls_cert, tls_key)
    _check_public_url(public_url)
    try:  # a malformed allow-list stops here, not at the first page sent
        outbound_allow()
        ready_max_lag_seconds()  # and a malformed /readyz threshold before the store opens
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc
    public = configured_public_url()
    if tls or public.startswith("https://"):
        # Cookies of an HTTPS site are Secure unless WARROOM_SECURE_COOKIES says otherwise.
        os.environ.setdefault("WARROOM_SECURE_COOKIES", "1")
    _logging()
    settings = Settings.from_env()
    clock = SystemClock()
    # Read before the store is opened: a broken install stops here, before the first
    # run's credentials are made and printed.
    demo_config = _demo_config() if demo else None
    db, boot = _open_store(clock)
    url = f"{'https' if tls else 'http'}://{host}:{port}"
    # Links inside notifications (acknowledge, resolve) point here unless set.
    default_base_url(url)
    shown = public or url
    if boot.created:
        with db.session() as s:
            token = create_token(
                s, clock, role="admin", user=user_by_name(s, "admin"), name="first-run"
            )
        click.echo("")
        click.echo("First run: created the administrator. These credentials are shown once.")
        click.echo(
            f"  web:  {shown}/login   user: {boot.admin_name}   password: {boot.admin_password}"
        )
        click.echo(f"  CLI:  export WARROOM_URL={shown} WARROOM_TOKEN={token}")
        click.echo("")
    if demo_config is not None:
        from warroom.demo import load_demo

        made = load_demo(db, clock, demo_config)
        click.echo(f"Demo organisation loaded ({made} sample incidents added).")
        click.echo("  demo logins: alice / bob / carol, password: warroom-demo")
        click.echo(f"  public status page: {shown}/status")
    engine_workers = [] if no_engine else start_engine(db, clock, poll_seconds=0.2)
    click.echo(f"Serving on {url}  (API docs: {url}/docs)")
    if public and public != url:
        click.echo(f"Public URL: {public}")
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "warning",
        "timeout_graceful_shutdown": 3,
        # Access lines are not logged at this level anyway; with the access log off,
        # no request formats one (about 1 us each).
        "access_log": False,
    }
    if tls:
        options["ssl_certfile"], options["ssl_keyfile"] = tls
    try:
        if workers > 1:
            # Each process builds its own app from the environment; nothing that
            # matters is in process memory, so they share the work through the store.
            from warroom.analytics.metrics import prepare_multiprocess_dir

            prepare_multiprocess_dir()  # /metrics adds up every worker's counters
            uvicorn.run("warroom.app:app_from_env", factory=True, workers=workers, **options)
        else:
            app = create_app(db, clock)
            app.state.secure_cookies = settings.secure_cookies
            uvicorn.run(app, **options)
    finally:
        # uvicorn has drained the requests (SIGTERM, Ctrl-C); leased jobs are handed back.
        stop_engine(engine_workers)


@main.command()
@click.option(
    "--poll",
    default=0.2,
    show_default=True,
    help="longest wait between looks for due work (work from other processes is seen this late)",
)
@click.option(
    "--deliveries",
    default=4,
    show_default=True,
    type=click.IntRange(1, 64),
    help="threads that send notifications",
)
@click.option("--create", is_flag=True, help="make the store if it does not exist yet")
def engine(poll: float, deliveries: int, create: bool) -> None:
    """Run the engine alone: claims due work from the store and runs it. Several engines
    (on PostgreSQL) share the work; each job is run by one of them."""
    import signal
    import threading

    from warroom.core.clock import SystemClock
    from warroom.engine.worker import start_engine, stop_engine

    _logging()
    db, _ = _open_store(create=create)
    workers = start_engine(db, SystemClock(), poll_seconds=poll, deliveries=deliveries)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    click.echo(f"engine {workers[0].name} running against the store; Ctrl-C or SIGTERM stops it")
    with contextlib.suppress(KeyboardInterrupt):
        stopping.wait()
    # Each thread finishes the job it is running; the jobs it still holds are handed back.
    stop_engine(workers)


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(["viewer", "responder", "admin"]))
@click.option("--user", "user_name", default=None, help="act as this user")
@click.option("--name", default="", help="a label for the token")
@click.option("--create", is_flag=True, help="make the store if it does not exist yet")
@click.option("--json", "as_json", is_flag=True)
def token_create(role: str, user_name: str | None, name: str, create: bool, as_json: bool) -> None:
    """Create a token directly in the store (for bootstrapping). Shown once."""
    from warroom.auth.service import create_token
    from warroom.core.clock import SystemClock
    from warroom.core.errors import DomainError
    from warroom.org.service import user_by_name

    db, _ = _open_store(create=create)
    try:
        with db.session() as s:
            user_row = user_by_name(s, user_name) if user_name else None
            tok = create_token(s, SystemClock(), role=role, user=user_row, name=name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    finally:
        db.dispose()
    if as_json:
        emit_json({"token": tok, "role": role, "user": user_name})
    else:
        click.echo(tok)


main.add_command(incident)
main.add_command(user)
main.add_command(audit)
token.add_command(token_list)
token.add_command(token_revoke)
main.add_command(service)
main.add_command(apply)
main.add_command(export)
main.add_command(example)
main.add_command(alert)
main.add_command(silence)
main.add_command(change)
main.add_command(integration)
main.add_command(heartbeat)
main.add_command(status)
main.add_command(postmortem)
main.add_command(action)
main.add_command(oncall)
main.add_command(page)
main.add_command(escalation)
main.add_command(contact)
main.add_command(report)
main.add_command(slo)
main.add_command(triage)
main.add_command(backup)
main.add_command(restore)


if __name__ == "__main__":
    sys.exit(main())
