"""incidents: an index on declared_at, for analytics ranges

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_incidents_declared_at", "incidents", ["declared_at"])


def downgrade() -> None:
    op.drop_index("ix_incidents_declared_at", table_name="incidents")
