"""Migrations build exactly the schema the models describe, on both stores."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from warroom.db.migrate import include_object, upgrade
from warroom.db.session import Database
from warroom.tables import Base


def test_models_match_migrations(db: Database) -> None:
    upgrade(db.engine)  # idempotent on an up-to-date store
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": False, "include_object": include_object}
        )
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_alerts_left_open_on_ended_incidents_are_resolved_by_the_upgrade(db: Database) -> None:
    """0009: a store from before the fix, with alerts still open on resolved and closed
    incidents, comes out with those alerts resolved at their incident's end; alerts of
    an active incident stay open."""
    from alembic import command
    from sqlalchemy import text

    from warroom.db.migrate import alembic_config

    cfg = alembic_config(db.engine.url.render_as_string(hide_password=False))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0008")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO integrations (id, name, kind, key_hash, key_hint, hmac_secret,"
                " rate_per_minute, mapping, created_at) VALUES (1, 'pd', 'pagerduty', 'h',"
                " 'k', '', 0, '{}', '2026-03-01 09:00:00')"
            )
        )
        for number, status, resolved, closed in (
            (1, "resolved", "2026-03-02 10:00:00", None),
            (2, "closed", "2026-03-02 11:00:00", "2026-03-03 09:00:00"),
            (3, "monitoring", None, None),
        ):
            conn.execute(
                text(
                    "INSERT INTO incidents (id, title, severity, status, impact_summary,"
                    " resolution_summary, detection_source, customer_facing, private, drill,"
                    " channel, bridge_url, started_at, detected_at, declared_at, resolved_at,"
                    " closed_at, updated_at) VALUES (:id, 'x', 'SEV-2', :status, '', '',"
                    " 'automated_alert', false, false, false, '', '', '2026-03-02 09:00:00',"
                    " '2026-03-02 09:00:00', '2026-03-02 09:00:00', :resolved, :closed,"
                    " '2026-03-03 09:00:00')"
                ),
                {"id": number, "status": status, "resolved": resolved, "closed": closed},
            )
            conn.execute(
                text(
                    "INSERT INTO alerts (id, integration_id, incident_id, dedup_key, status,"
                    " summary, source, source_severity, severity, labels, annotations, links,"
                    " details, first_seen, last_seen, occurrences, flapping, noise_note)"
                    " VALUES (:id, 1, :id, :key, 'triggered', 's', 'src', 'critical', 'SEV-2',"
                    " '{}', '{}', '[]', '{}', '2026-03-02 09:00:00', '2026-03-02 09:00:00', 1,"
                    " false, '')"
                ),
                {"id": number, "key": f"k{number}"},
            )
    upgrade(db.engine)
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, resolved_at FROM alerts ORDER BY id")).all()
    got = [(i, status, str(at)[:19] if at else None) for i, status, at in rows]
    assert got == [
        (1, "resolved", "2026-03-02 10:00:00"),
        (2, "resolved", "2026-03-02 11:00:00"),
        (3, "triggered", None),
    ]
