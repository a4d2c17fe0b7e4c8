"""heartbeats: monitors, their outages, and the Watchdog alert of an integration

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("heartbeat_alert", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("heartbeat_monitor", sa.String(length=100), nullable=True))
    op.create_table(
        "heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("token_hint", sa.String(length=8), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("down", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ping_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ping_source", sa.String(length=32), nullable=False),
        sa.Column("pings", sa.JSON(), nullable=False),
        sa.Column("job_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_heartbeats_service_id_services"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name=op.f("fk_heartbeats_integration_id_integrations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heartbeats")),
        sa.UniqueConstraint("name", name=op.f("uq_heartbeats_name")),
        sa.UniqueConstraint("integration_id", name=op.f("uq_heartbeats_integration_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_heartbeats_token_hash")),
    )
    op.create_table(
        "heartbeat_outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("heartbeat_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["heartbeat_id"],
            ["heartbeats.id"],
            name=op.f("fk_heartbeat_outages_heartbeat_id_heartbeats"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heartbeat_outages")),
    )
    op.create_index(
        "ix_heartbeat_outages_span", "heartbeat_outages", ["heartbeat_id", "started_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_heartbeat_outages_span", table_name="heartbeat_outages")
    op.drop_table("heartbeat_outages")
    op.drop_table("heartbeats")
    with op.batch_alter_table("integrations") as batch:
        batch.drop_column("heartbeat_monitor")
        batch.drop_column("heartbeat_alert")
