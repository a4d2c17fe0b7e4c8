"""on-call handoffs: the outgoing person's note, the incoming person's checklist, remarks

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oncall_handoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shift_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outgoing_user_id", sa.Integer(), nullable=True),
        sa.Column("incoming_user_id", sa.Integer(), nullable=True),
        sa.Column("outgoing", sa.String(length=100), nullable=False),
        sa.Column("incoming", sa.String(length=100), nullable=False),
        sa.Column("note", sa.JSON(), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["oncall_schedules.id"],
            name=op.f("fk_oncall_handoffs_schedule_id_oncall_schedules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["outgoing_user_id"],
            ["users.id"],
            name=op.f("fk_oncall_handoffs_outgoing_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["incoming_user_id"],
            ["users.id"],
            name=op.f("fk_oncall_handoffs_incoming_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_handoffs")),
        sa.UniqueConstraint(
            "schedule_id", "level", "at", name=op.f("uq_oncall_handoffs_schedule_id")
        ),
    )
    op.create_index("ix_oncall_handoffs_at", "oncall_handoffs", ["at"], unique=False)
    op.create_index(
        op.f("ix_oncall_handoffs_outgoing_user_id"),
        "oncall_handoffs",
        ["outgoing_user_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_oncall_handoffs_incoming_user_id"),
        "oncall_handoffs",
        ["incoming_user_id"],
        unique=False,
    )
    op.create_table(
        "oncall_handoff_remarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["oncall_handoffs.id"],
            name=op.f("fk_oncall_handoff_remarks_handoff_id_oncall_handoffs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_oncall_handoff_remarks_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oncall_handoff_remarks")),
    )
    op.create_index(
        op.f("ix_oncall_handoff_remarks_handoff_id"),
        "oncall_handoff_remarks",
        ["handoff_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_oncall_handoff_remarks_handoff_id"), table_name="oncall_handoff_remarks")
    op.drop_table("oncall_handoff_remarks")
    op.drop_index(op.f("ix_oncall_handoffs_incoming_user_id"), table_name="oncall_handoffs")
    op.drop_index(op.f("ix_oncall_handoffs_outgoing_user_id"), table_name="oncall_handoffs")
    op.drop_index("ix_oncall_handoffs_at", table_name="oncall_handoffs")
    op.drop_table("oncall_handoffs")
