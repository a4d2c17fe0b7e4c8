"""alerts: an index on (service_id, first_seen) for grouping new alerts into incidents

Grouping looks for the newest alert of the same service that joined an active incident
within the window. Without this index the store read every alert of every active
incident and sorted them, for each batch of new alerts: the cost grew with the storm.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_alerts_service_seen", "alerts", ["service_id", "first_seen"])


def downgrade() -> None:
    op.drop_index("ix_alerts_service_seen", table_name="alerts")
