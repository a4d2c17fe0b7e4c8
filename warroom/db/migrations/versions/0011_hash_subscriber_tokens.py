"""status page subscribers: link tokens stored as SHA-256 hashes, one per message

Until now each subscriber's token sat in plain text in status_subscribers.token, so
anyone with a copy of the store could confirm or end any subscription. Tokens now live
in status_subscriber_tokens as SHA-256 hashes (warroom.core.security.hash_token), a new
one for every message sent. The upgrade moves each existing token there, hashed, and
drops the plain-text column: confirm and unsubscribe links already sent keep working.

The downgrade cannot recover a token from its hash: it gives every subscriber a new
random token, so links sent before the downgrade stop working.

Revision ID: 0011
Revises: 0010
"""

import hashlib
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _sha256(token: str) -> str:
    # As warroom.core.security.hash_token; copied so this step never changes with the code.
    return hashlib.sha256(token.encode()).hexdigest()


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, token, created_at FROM status_subscribers")).all()
    # The column goes first: SQLite drops it by copying the table, and dropping the old
    # copy would cascade to the tokens of a table that already referred to it.
    with op.batch_alter_table("status_subscribers") as batch:
        batch.drop_constraint("uq_status_subscribers_token", type_="unique")
        batch.drop_column("token")
    op.create_table(
        "status_subscriber_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["status_subscribers.id"],
            name=op.f("fk_status_subscriber_tokens_subscriber_id_status_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_subscriber_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_status_subscriber_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_status_subscriber_tokens_subscriber_id"),
        "status_subscriber_tokens",
        ["subscriber_id"],
    )
    if rows:
        # created_at is copied as the store returned it (text on SQLite, a timestamp on
        # PostgreSQL), so plain SQL rather than the typed table.
        conn.execute(
            sa.text(
                "INSERT INTO status_subscriber_tokens (subscriber_id, token_hash, created_at)"
                " VALUES (:id, :hash, :at)"
            ),
            [{"id": i, "hash": _sha256(token), "at": at} for i, token, at in rows],
        )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_status_subscriber_tokens_subscriber_id"), table_name="status_subscriber_tokens"
    )
    op.drop_table("status_subscriber_tokens")
    with op.batch_alter_table("status_subscribers") as batch:
        batch.add_column(sa.Column("token", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    for (i,) in conn.execute(sa.text("SELECT id FROM status_subscribers")).all():
        conn.execute(
            sa.text("UPDATE status_subscribers SET token = :token WHERE id = :id"),
            {"token": secrets.token_urlsafe(24), "id": i},
        )
    with op.batch_alter_table("status_subscribers") as batch:
        batch.alter_column("token", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_status_subscribers_token", ["token"])
