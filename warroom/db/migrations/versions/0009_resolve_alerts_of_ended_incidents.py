"""alerts left open on resolved or closed incidents are resolved with them

Until now, resolving an incident by hand left its alerts open, so a later trigger of the
same key was absorbed by the ended incident (no new incident, no page). Resolving an
incident now resolves its alerts; this brings the alerts of incidents that ended before
the upgrade into the same state, at the time their incident was resolved (or closed).

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE alerts SET
            status = 'resolved',
            resolved_at = (
                SELECT coalesce(incidents.resolved_at, incidents.closed_at, incidents.updated_at)
                FROM incidents WHERE incidents.id = alerts.incident_id
            )
        WHERE alerts.status != 'resolved'
            AND alerts.incident_id IN (
                SELECT id FROM incidents WHERE status IN ('resolved', 'closed')
            )
        """
    )


def downgrade() -> None:
    # Which alerts were open before cannot be told apart afterwards; nothing to undo.
    pass
