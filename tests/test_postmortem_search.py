"""Similar incidents through the store's own full-text search, on both stores: SQLite FTS5
and PostgreSQL tsvector (migration 0016), kept current by triggers on incident create and
retitle and on postmortem edits; stemming matches word forms; the privacy of the search."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import Api
from tests.test_postmortems import declare, resolve
from warroom.core.clock import ManualClock
from warroom.db.session import Database


def _similar(api: Api, ref: str) -> list[dict]:
    r = api.get(f"/api/v1/postmortems/{ref}/similar")
    assert r.status_code == 200, r.text
    return list(r.json()["similar"])


def test_titles_match_through_stemming_and_follow_a_retitle(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice, title="Checkout latency spikes")
    declare(alice, title="Spiking latency in checkout")
    declare(alice, title="Search index rebuild stuck")
    (hit,) = _similar(alice, "2")
    assert hit["incident"] == "INC-1"
    assert "similar title: checkout, latency, spiking" in hit["reasons"]
    # Retitling the first incident reindexes it (the incidents trigger).
    r = alice.patch("/api/v1/incidents/1", json={"title": "Mail relay rejects messages"})
    assert r.status_code == 200, r.text
    assert _similar(alice, "2") == []
    alice.patch("/api/v1/incidents/3", json={"title": "Checkout latency from search"})
    assert [h["incident"] for h in _similar(alice, "2")] == ["INC-3"]


def test_root_causes_match_once_the_postmortem_says_them(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice, title="Orders page slow")
    resolve(alice, db, clock, "1")
    declare(alice, title="Invoices not sent")
    resolve(alice, db, clock, "2")
    assert _similar(alice, "2") == []
    alice.patch(
        "/api/v1/postmortems/1",
        json={
            "content": {
                "root_cause": "Database connections exhausted",
                "whys": [{"why": "Why slow?", "because": "Retrying workers held connections"}],
            }
        },
    )
    alice.patch(
        "/api/v1/postmortems/2",
        json={"content": {"root_cause": "A retry storm exhausted the database connection pool"}},
    )
    (hit,) = _similar(alice, "2")
    assert hit["incident"] == "INC-1"
    reason = next(r for r in hit["reasons"] if r.startswith("similar root cause: "))
    assert {"connection", "database", "exhausted"} <= set(reason.split(": ")[1].split(", "))
    # A changed root cause is reindexed (the postmortems trigger).
    alice.patch("/api/v1/postmortems/1", json={"content": {"root_cause": "Certificate expired"}})
    hits = _similar(alice, "2")
    assert hits == [] or not any(r.startswith("similar root cause") for r in hits[0]["reasons"])


def test_the_index_is_the_stores_own_and_follows_deletes(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice, title="Payment gateway timeouts")
    with db.engine.connect() as conn:
        if db.dialect == "sqlite":
            sql = "SELECT rowid FROM incident_search WHERE incident_search MATCH 'title : timeout'"
        else:
            sql = (
                "SELECT incident_id FROM incident_search"
                " WHERE title @@ plainto_tsquery('english', 'timeout')"
            )
        assert [r[0] for r in conn.execute(text(sql))] == [1]
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM timeline_events"))
        conn.execute(text("DELETE FROM incident_services"))
        conn.execute(text("DELETE FROM incidents"))
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident_search")).scalar() == 0


def test_private_incidents_are_not_found_for_those_who_cannot_see_them(
    alice: Api, bob: Api, admin: Api, db: Database, clock: ManualClock
) -> None:
    declare(alice, title="Ledger export duplicated rows", private=True)
    declare(bob, title="Ledger export duplicated again")
    assert _similar(bob, "2") == []
    assert [h["incident"] for h in _similar(admin, "2")] == ["INC-1"]


def test_the_upgrade_indexes_what_is_there_and_the_downgrade_undoes_it(
    alice: Api, db: Database, clock: ManualClock
) -> None:
    """0016 over a store with incidents, a postmortem and a team owning a service: the
    index is filled from them; downgrading to 0015 removes the index, its triggers, the
    stars and the team lead, and leaves the rest."""
    from alembic import command

    from warroom.config import service as config
    from warroom.db.migrate import alembic_config, upgrade

    with db.session() as s:
        config.apply(
            s,
            clock,
            {
                "teams": [{"name": "ops", "lead": "alice"}],
                "services": [{"name": "api", "owner": "ops"}],
            },
        )
    declare(alice, title="Certificate expired on the edge")
    resolve(alice, db, clock)
    alice.patch("/api/v1/postmortems/1", json={"content": {"root_cause": "Renewal cron disabled"}})
    cfg = alembic_config(db.engine.url.render_as_string(hide_password=False))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015")
    with db.engine.connect() as conn:
        tables = set(db.engine.dialect.get_table_names(conn))
        assert "incident_search" not in tables and "timeline_stars" not in tables
        assert conn.execute(text("SELECT count(*) FROM services")).scalar() == 1
    upgrade(db.engine)
    declare(alice, title="Expired certificates again")
    resolve(alice, db, clock, "2")
    alice.patch(
        "/api/v1/postmortems/2", json={"content": {"root_cause": "The renewal cron was off"}}
    )
    (hit,) = _similar(alice, "2")
    assert hit["incident"] == "INC-1"
    assert any(r.startswith("similar title: ") for r in hit["reasons"])
    assert "similar root cause: cron, renewal" in hit["reasons"]
