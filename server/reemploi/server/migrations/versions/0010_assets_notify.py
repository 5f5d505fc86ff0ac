"""PostgreSQL: a change to an asset is announced to the ingest writers (NOTIFY)

Each ingest writer keeps in memory the assets still in hand (ingest/memory.py), loaded
when it connects, so that a tap skips the read of its asset. Whatever else changes an
asset — the web application declaring a unit, a workshop grading it, a sale — now sends
a notification on the channel ``reemploi_assets`` when its transaction commits: the
asset as a JSON array ``[id, epc, category, state, holder_org_id, holder_site_id]``, or
``[id, epc]`` when it is deleted. The writers listen and bring their memory up to date
before each batch. A notification late or lost costs nothing but a round trip: a writer
checks what it remembered inside the batch's own transaction.

The writers themselves set ``reemploi.writer = 'ingest'`` on their connections and send
nothing (each knows what it wrote; a notification per tap would cost every commit a
trigger call and the notification queue's lock).

SQLite has no notifications and its writers no memory: nothing changes there.

Revision ID: 0010_assets_notify
Revises: 0009_opaque_no_stats
Create Date: 2026-11-30 16:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0010_assets_notify"
down_revision = "0009_opaque_no_stats"
branch_labels = None
depends_on = None

CHANNEL = "reemploi_assets"  # ingest/memory.py listens on it
QUIET = "coalesce(current_setting('reemploi.writer', true), '') <> 'ingest'"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION reemploi_asset_changed() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                PERFORM pg_notify('{CHANNEL}', json_build_array(OLD.id, OLD.epc)::text);
                RETURN OLD;
            END IF;
            PERFORM pg_notify(
                '{CHANNEL}',
                json_build_array(
                    NEW.id, NEW.epc, NEW.category, NEW.state,
                    NEW.holder_org_id, NEW.holder_site_id
                )::text
            );
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER assets_added_or_removed AFTER INSERT OR DELETE ON assets"
        f" FOR EACH ROW WHEN ({QUIET}) EXECUTE FUNCTION reemploi_asset_changed()"
    )
    op.execute(
        "CREATE TRIGGER assets_moved"
        " AFTER UPDATE OF epc, category, state, holder_org_id, holder_site_id ON assets"
        f" FOR EACH ROW WHEN ({QUIET}) EXECUTE FUNCTION reemploi_asset_changed()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER assets_moved ON assets")
    op.execute("DROP TRIGGER assets_added_or_removed ON assets")
    op.execute("DROP FUNCTION reemploi_asset_changed()")
