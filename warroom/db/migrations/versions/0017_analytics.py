"""analytics: per-incident durations, repeats and scheduled reports

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

DURATIONS = ("mttd", "mtta", "mttm", "mttr", "triage", "mitigation_start", "customer_comms")


FK_SQL = (
    ", \n\tCONSTRAINT fk_incidents_repeat_of_id_incidents FOREIGN KEY(repeat_of_id) "
    "REFERENCES incidents (id) ON DELETE SET NULL"
)


def _incidents_sql(conn: sa.Connection) -> str:
    return str(
        conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'incidents'"
        ).scalar_one()
    )


def _write_sqlite_schema(conn: sa.Connection, sql: str) -> None:
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar_one()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    conn.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'incidents'", (sql,)
    )
    conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    op.add_column(
        "incidents", sa.Column("mitigation_started_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "incidents", sa.Column("customers_informed_at", sa.DateTime(timezone=True), nullable=True)
    )
    # SQLite cannot add a constraint, and copying incidents to a new table would drop other
    # migrations' triggers on it (and, with foreign keys on, cascade to its children). So:
    # a plain ADD COLUMN, then the named table constraint written into the stored schema
    # (SQLite's documented writable_schema route; every existing row is NULL, so valid).
    if op.get_bind().dialect.name == "sqlite":
        conn = op.get_bind()
        op.execute("ALTER TABLE incidents ADD COLUMN repeat_of_id INTEGER")
        sql = _incidents_sql(conn).rstrip().removesuffix(")").rstrip() + FK_SQL + "\n)"
        _write_sqlite_schema(conn, sql)
    else:
        op.add_column("incidents", sa.Column("repeat_of_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            op.f("fk_incidents_repeat_of_id_incidents"),
            "incidents",
            "incidents",
            ["repeat_of_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index(op.f("ix_incidents_repeat_of_id"), "incidents", ["repeat_of_id"], unique=False)
    op.create_table(
        "incident_facts",
        sa.Column("incident_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=False),
        sa.Column("detection_source", sa.String(length=32), nullable=False),
        sa.Column("drill", sa.Boolean(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("is_repeat", sa.Boolean(), nullable=False),
        *[sa.Column(m, sa.Float(), nullable=True) for m in DURATIONS],
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_facts_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name=op.f("pk_incident_facts")),
    )
    op.create_index(
        "ix_incident_facts_scan",
        "incident_facts",
        ["drill", "declared_at", "private", "severity", "detection_source", "is_repeat"],
        unique=False,
    )
    op.create_index(
        "ix_incident_facts_private",
        "incident_facts",
        ["private", "drill", "declared_at"],
        unique=False,
    )
    for m in DURATIONS:
        where = sa.text(f"{m} IS NOT NULL")
        op.create_index(
            f"ix_incident_facts_sev_{m}",
            "incident_facts",
            ["drill", "severity", m, "declared_at", "private"],
            unique=False,
            sqlite_where=where,
            postgresql_where=where,
        )
        op.create_index(
            f"ix_incident_facts_all_{m}",
            "incident_facts",
            ["drill", m, "declared_at", "private"],
            unique=False,
            sqlite_where=where,
            postgresql_where=where,
        )
    op.create_table(
        "incident_fact_services",
        sa.Column("incident_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("service_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drill", sa.Boolean(), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("multi", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_fact_services_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_incident_fact_services_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "incident_id", "service_id", name=op.f("pk_incident_fact_services")
        ),
    )
    op.create_index(
        "ix_incident_fact_services_scan",
        "incident_fact_services",
        ["drill", "service_id", "multi", "declared_at", "private", "incident_id"],
        unique=False,
    )
    op.create_index(
        "ix_incident_fact_services_multi",
        "incident_fact_services",
        ["drill", "multi", "declared_at", "service_id", "private", "incident_id"],
        unique=False,
    )
    op.create_table(
        "incident_fact_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("severity", sa.String(length=32), nullable=False),
        sa.Column("detection_source", sa.String(length=32), nullable=False),
        sa.Column("private", sa.Boolean(), nullable=False),
        sa.Column("drill", sa.Boolean(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        *[
            c
            for m in DURATIONS
            for c in (
                sa.Column(f"{m}_n", sa.Integer(), nullable=False),
                sa.Column(f"{m}_sum", sa.Float(), nullable=False),
            )
        ],
        sa.PrimaryKeyConstraint(
            "month",
            "severity",
            "detection_source",
            "private",
            "drill",
            name=op.f("pk_incident_fact_months"),
        ),
    )
    op.create_table(
        "report_schedules",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_schedules")),
    )
    # Every incident's facts from what it recorded so far.
    from warroom.analytics.facts import backfill

    backfill(op.get_bind())


def downgrade() -> None:
    op.drop_table("report_schedules")
    op.drop_table("incident_fact_months")
    op.drop_index("ix_incident_fact_services_multi", table_name="incident_fact_services")
    op.drop_index("ix_incident_fact_services_scan", table_name="incident_fact_services")
    op.drop_table("incident_fact_services")
    for m in DURATIONS:
        op.drop_index(f"ix_incident_facts_all_{m}", table_name="incident_facts")
        op.drop_index(f"ix_incident_facts_sev_{m}", table_name="incident_facts")
    op.drop_index("ix_incident_facts_private", table_name="incident_facts")
    op.drop_index("ix_incident_facts_scan", table_name="incident_facts")
    op.drop_table("incident_facts")
    op.drop_index(op.f("ix_incidents_repeat_of_id"), table_name="incidents")
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        _write_sqlite_schema(conn, _incidents_sql(conn).replace(FK_SQL, ""))
    else:
        op.drop_constraint(
            op.f("fk_incidents_repeat_of_id_incidents"), "incidents", type_="foreignkey"
        )
    for column in ("repeat_of_id", "customers_informed_at", "mitigation_started_at"):
        op.execute(f"ALTER TABLE incidents DROP COLUMN {column}")
