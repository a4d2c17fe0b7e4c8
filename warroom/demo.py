"""`warroom serve --demo`: the example organisation shipped inside the package
(warroom/examples/acme; examples/acme in a checkout links to it) plus past incidents and
a past public incident on the status page."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from warroom.alerts.changes import record_change
from warroom.alerts.parsers import ChangePayload
from warroom.config import service as config
from warroom.config.loader import Loaded, load
from warroom.core.clock import Clock, ManualClock
from warroom.core.principal import Principal
from warroom.db.session import Database
from warroom.incidents import service as incidents
from warroom.incidents.models import Incident
from warroom.org.service import set_password, user_by_name
from warroom.statuspage import incidents as statuspage
from warroom.statuspage.models import ComponentStatusChange, StatusComponent
from warroom.statuspage.rules import UPTIME_DAYS

DEMO_LOGINS = ("alice", "bob", "carol")
DEMO_PASSWORD = "warroom-demo"
EXAMPLE = ("examples", "acme")  # inside the warroom package


class DemoMissing(Exception):
    """This installation of warroom lacks the example organisation's files."""


def example_folder() -> Traversable:
    """The example organisation's folder inside the installed package."""
    return resources.files("warroom").joinpath(*EXAMPLE)


def example_files(folder: Traversable | None = None) -> list[Traversable]:
    """The example organisation's YAML files; DemoMissing when this install lacks them."""
    if folder is None:
        folder = example_folder()
    if not folder.is_dir():
        raise DemoMissing(
            "this installation of warroom has no demo organisation (warroom/"
            + "/".join(EXAMPLE)
            + " is missing from the package); reinstall warroom"
        )
    files = [f for f in folder.iterdir() if f.is_file() and f.name.endswith((".yaml", ".yml"))]
    if not files:
        raise DemoMissing(f"the demo organisation's folder {folder} holds no YAML files")
    return sorted(files, key=lambda f: f.name)


def copy_example(target: Path) -> list[Path]:
    """Writes the example organisation's YAML files into `target` (made when missing);
    refuses to overwrite a file. Returns the files written."""
    files = example_files()
    clash = [target / f.name for f in files if (target / f.name).exists()]
    if clash:
        raise FileExistsError(f"{clash[0]} exists; choose an empty or new folder")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for f in files:
        (target / f.name).write_bytes(f.read_bytes())
        written.append(target / f.name)
    return written


def example_config() -> Loaded:
    """Reads the example organisation's config (DemoMissing when this install lacks it)."""
    folder = example_folder()
    example_files(folder)
    if isinstance(folder, Path):
        return load(folder)
    # Not a plain folder (say, imported from a zip file): read a copy.
    with tempfile.TemporaryDirectory() as tmp:
        copy_example(Path(tmp))
        return load(tmp)


def _backdate_status_page(s: Session, since: datetime) -> None:
    """Components only just made by the config start their history at `since`, so the
    page's uptime bars show a full record rather than "No data" before today."""
    for c in s.scalars(select(StatusComponent)):
        history = list(
            s.scalars(
                select(ComponentStatusChange).where(ComponentStatusChange.component_id == c.id)
            )
        )
        if c.status == "operational" and len(history) <= 1:
            c.created_at = c.updated_at = since
            for change in history:
                change.at = since
    s.flush()


def load_demo(db: Database, clock: Clock, loaded: Loaded | None = None) -> int:
    """Applies the example config (`loaded`, else the packaged one); on a store without
    incidents adds a few past ones, one of them published on the status page. Returns how
    many incidents it created."""
    if loaded is None:
        loaded = example_config()
    with db.session() as s:
        config.apply(s, clock, loaded.data)
        for name in DEMO_LOGINS:
            person = user_by_name(s, name)
            if person.password_hash is None:
                set_password(s, person, DEMO_PASSWORD)
    with db.session() as s:
        if s.scalar(select(func.count()).select_from(Incident)):
            return 0
        now = clock.now()
        _backdate_status_page(s, now - timedelta(days=UPTIME_DAYS))
        alice = user_by_name(s, "alice")
        bob = user_by_name(s, "bob")
        as_alice = Principal(role="responder", user_id=alice.id, name=alice.name)
        past = ManualClock(now - timedelta(days=9, hours=3))
        record_change(
            s,
            past,
            change=ChangePayload(
                summary="Deploy payments-api 2024.11.3 (connection pool settings)",
                source="ci",
                timestamp=past.now() - timedelta(minutes=12),
                kind="deploy",
            ),
            recorded_by="ci",
            service="payments-api",
        )
        inc = incidents.declare(
            s,
            past,
            as_alice,
            title="Checkout API returning 503 for card payments",
            severity="SEV-1",
            services=["checkout", "payments-api"],
            impact_summary="Card payments failed for all customers; PayPal unaffected.",
            detection_source="automated_alert",
            customer_facing=True,
            started_at=past.now() - timedelta(minutes=4),
        )
        past.advance(minutes=3)
        incidents.assign_role(s, past, as_alice, inc, role="commander", user_name="alice")
        incidents.assign_role(s, past, as_alice, inc, role="tech", user_name="bob")
        public = statuspage.publish(
            s,
            past,
            as_alice,
            incident=inc.id,
            name="Card payments failing",
            body="Card payments are failing at checkout; PayPal works. We are investigating.",
            components={"Card payments": "major_outage", "Checkout": "partial_outage"},
        )
        past.advance(minutes=6)
        incidents.log_event(
            s,
            past,
            as_alice,
            inc,
            kind="note",
            text="payments-api pods in CrashLoopBackOff since deploy 2024.11.3",
        )
        past.advance(minutes=2)
        incidents.log_event(s, past, as_alice, inc, kind="decision", text="Roll back payments-api")
        incidents.change_status(s, past, as_alice, inc, status="identified")
        statuspage.post_update(
            s,
            past,
            as_alice,
            public.code,
            status="identified",
            body="A faulty update to our payment service is the cause; we are rolling it back.",
        )
        past.advance(minutes=9)
        incidents.change_status(
            s,
            past,
            as_alice,
            inc,
            status="monitoring",
            note="Rollback complete, success rate back to 99.9%",
        )
        statuspage.post_update(
            s,
            past,
            as_alice,
            public.code,
            status="monitoring",
            body="The update is rolled back and card payments succeed again. We are watching.",
            components={"Card payments": "operational", "Checkout": "operational"},
        )
        past.advance(minutes=30)
        incidents.resolve(s, past, as_alice, inc, summary="Rolled back a bad payments-api deploy.")
        statuspage.post_update(
            s,
            past,
            as_alice,
            public.code,
            status="resolved",
            body="Card payments have worked normally for half an hour. This incident is resolved.",
        )

        as_bob = Principal(role="responder", user_id=bob.id, name=bob.name)
        past = ManualClock(now - timedelta(days=2, hours=6))
        inc = incidents.declare(
            s,
            past,
            as_bob,
            title="Search latency above 2 s in eu-west",
            severity="SEV-2",
            services=["search"],
            detection_source="synthetic",
            impact_summary="Search slow for EU customers.",
        )
        incidents.assign_role(s, past, as_bob, inc, role="commander", user_name="bob")
        past.advance(minutes=40)
        incidents.resolve(s, past, as_bob, inc, summary="Rebuilt a corrupted index shard.")

        past = ManualClock(now - timedelta(minutes=25))
        incidents.declare(
            s,
            past,
            as_alice,
            title="Delayed order confirmation emails",
            severity="SEV-3",
            services=["notifications"],
            detection_source="customer_report",
            impact_summary="Confirmation emails arrive 10-20 minutes late.",
        )
        return 3
