"""postmortems: full-text search of incidents and starred timeline events

Also a team's lead (`teams.lead_id`), whom overdue postmortem and action item reminders
reach before the admins.

The search index (`incident_search`) is the store's own and lives outside the models
(`warroom.db.migrate.include_object` leaves it out of the models/migrations comparison):

- SQLite: an FTS5 table (porter stemming), rowid = incident id, columns `title` and
  `cause` (the postmortem's root cause and "because" answers);
- PostgreSQL: a table of `tsvector` columns (`english`) with GIN indexes.

Triggers keep it current: on an incident's insert, title change and delete, and on a
postmortem's insert, content change and delete.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_SQLITE_CAUSE = (
    "coalesce(json_extract(NEW.content, '$.root_cause'), '') || ' ' || coalesce(("
    "SELECT group_concat(CASE WHEN type = 'object' THEN json_extract(value, '$.because') END,"
    " ' ') FROM json_each(NEW.content, '$.whys')), '')"
)

_SQLITE_UP = [
    "CREATE VIRTUAL TABLE incident_search USING fts5(title, cause, tokenize='porter unicode61')",
    "INSERT INTO incident_search (rowid, title, cause) SELECT id, title, '' FROM incidents",
    "CREATE TRIGGER incident_search_ai AFTER INSERT ON incidents BEGIN"
    " INSERT INTO incident_search (rowid, title, cause) VALUES (NEW.id, NEW.title, ''); END",
    "CREATE TRIGGER incident_search_au AFTER UPDATE OF title ON incidents BEGIN"
    " UPDATE incident_search SET title = NEW.title WHERE rowid = NEW.id; END",
    "CREATE TRIGGER incident_search_ad AFTER DELETE ON incidents BEGIN"
    " DELETE FROM incident_search WHERE rowid = OLD.id; END",
    "CREATE TRIGGER incident_search_pm_ai AFTER INSERT ON postmortems BEGIN"
    f" UPDATE incident_search SET cause = {_SQLITE_CAUSE} WHERE rowid = NEW.incident_id; END",
    "CREATE TRIGGER incident_search_pm_au AFTER UPDATE OF content ON postmortems BEGIN"
    f" UPDATE incident_search SET cause = {_SQLITE_CAUSE} WHERE rowid = NEW.incident_id; END",
    "CREATE TRIGGER incident_search_pm_ad AFTER DELETE ON postmortems BEGIN"
    " UPDATE incident_search SET cause = '' WHERE rowid = OLD.incident_id; END",
    "UPDATE incident_search SET cause = (SELECT "
    + _SQLITE_CAUSE.replace("NEW.content", "p.content")
    + " FROM postmortems p WHERE p.incident_id = incident_search.rowid)"
    " WHERE rowid IN (SELECT incident_id FROM postmortems)",
]

_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS incident_search_pm_ad",
    "DROP TRIGGER IF EXISTS incident_search_pm_au",
    "DROP TRIGGER IF EXISTS incident_search_pm_ai",
    "DROP TRIGGER IF EXISTS incident_search_ad",
    "DROP TRIGGER IF EXISTS incident_search_au",
    "DROP TRIGGER IF EXISTS incident_search_ai",
    "DROP TABLE IF EXISTS incident_search",
]

_PG_UP = [
    "CREATE TABLE incident_search (incident_id integer PRIMARY KEY"
    " REFERENCES incidents (id) ON DELETE CASCADE,"
    " title tsvector NOT NULL DEFAULT ''::tsvector, cause tsvector NOT NULL DEFAULT ''::tsvector)",
    "CREATE INDEX incident_search_title ON incident_search USING gin (title)",
    "CREATE INDEX incident_search_cause ON incident_search USING gin (cause)",
    """CREATE FUNCTION warroom_postmortem_cause(content json) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
      SELECT coalesce(content->>'root_cause', '') || ' ' || coalesce((
        SELECT string_agg(w->>'because', ' ')
        FROM json_array_elements(CASE WHEN json_typeof(content->'whys') = 'array'
                                      THEN content->'whys' ELSE '[]'::json END) AS w
        WHERE json_typeof(w) = 'object'), '')
    $$""",
    """CREATE FUNCTION warroom_incident_search_incident() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO incident_search (incident_id, title)
      VALUES (NEW.id, to_tsvector('english', NEW.title))
      ON CONFLICT (incident_id) DO UPDATE SET title = EXCLUDED.title;
      RETURN NULL;
    END $$""",
    """CREATE FUNCTION warroom_incident_search_postmortem() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' THEN
        UPDATE incident_search SET cause = ''::tsvector WHERE incident_id = OLD.incident_id;
      ELSE
        UPDATE incident_search
        SET cause = to_tsvector('english', warroom_postmortem_cause(NEW.content))
        WHERE incident_id = NEW.incident_id;
      END IF;
      RETURN NULL;
    END $$""",
    "CREATE TRIGGER incident_search_incident AFTER INSERT OR UPDATE OF title ON incidents"
    " FOR EACH ROW EXECUTE FUNCTION warroom_incident_search_incident()",
    "CREATE TRIGGER incident_search_postmortem"
    " AFTER INSERT OR UPDATE OF content OR DELETE ON postmortems"
    " FOR EACH ROW EXECUTE FUNCTION warroom_incident_search_postmortem()",
    "INSERT INTO incident_search (incident_id, title)"
    " SELECT id, to_tsvector('english', title) FROM incidents",
    "UPDATE incident_search s SET cause = to_tsvector('english',"
    " warroom_postmortem_cause(p.content)) FROM postmortems p WHERE p.incident_id = s.incident_id",
]

_PG_DOWN = [
    "DROP TRIGGER IF EXISTS incident_search_postmortem ON postmortems",
    "DROP TRIGGER IF EXISTS incident_search_incident ON incidents",
    "DROP FUNCTION IF EXISTS warroom_incident_search_postmortem()",
    "DROP FUNCTION IF EXISTS warroom_incident_search_incident()",
    "DROP FUNCTION IF EXISTS warroom_postmortem_cause(json)",
    "DROP TABLE IF EXISTS incident_search",
]


def upgrade() -> None:
    op.create_table(
        "timeline_stars",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["timeline_events.id"],
            name=op.f("fk_timeline_stars_event_id_timeline_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_timeline_stars_incident_id_incidents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_timeline_stars")),
    )
    op.create_index(
        op.f("ix_timeline_stars_incident_id"), "timeline_stars", ["incident_id"], unique=False
    )
    # Not a foreign key (SQLite cannot add one to an existing table): deactivating or
    # removing the person leaves the team without a lead in effect (reminders skip it).
    op.add_column("teams", sa.Column("lead_id", sa.Integer(), nullable=True))
    statements = _SQLITE_UP if op.get_bind().dialect.name == "sqlite" else _PG_UP
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    statements = _SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else _PG_DOWN
    for sql in statements:
        op.execute(sql)
    # SQLite drops the plain column in place (3.35+): copying teams to a new table would
    # trip the services' foreign keys to it.
    op.execute("ALTER TABLE teams DROP COLUMN lead_id")
    op.drop_index(op.f("ix_timeline_stars_incident_id"), table_name="timeline_stars")
    op.drop_table("timeline_stars")
