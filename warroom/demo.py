"""`warroom serve --demo`: the sample organisation in examples/acme plus past incidents."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from warroom.alerts.changes import record_change
from warroom.alerts.parsers import ChangePayload
from warroom.config import service as config
from warroom.config.loader import load
from warroom.core.clock import Clock, ManualClock
from warroom.core.principal import Principal
from warroom.db.session import Database
from warroom.incidents import service as incidents
from warroom.incidents.models import Incident
from warroom.org.service import set_password, user_by_name

DEMO_LOGINS = ("alice", "bob", "carol")
DEMO_PASSWORD = "warroom-demo"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "acme"


def load_demo(db: Database, clock: Clock, path: Path = EXAMPLE) -> int:
    """Applies the example config; on a store without incidents adds a few past ones.
    Returns how many incidents it created."""
    loaded = load(path)
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
        past.advance(minutes=9)
        incidents.change_status(
            s,
            past,
            as_alice,
            inc,
            status="monitoring",
            note="Rollback complete, success rate back to 99.9%",
        )
        past.advance(minutes=30)
        incidents.resolve(s, past, as_alice, inc, summary="Rolled back a bad payments-api deploy.")

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
