"""PostgreSQL: the references of sightings and custody events to devices and assets are
checked once per statement instead of once per row

A foreign key checks each inserted row with its own query and locks the referenced row
(``FOR KEY SHARE``): for a batch of 1,000 taps copied in one ``COPY``, that is 2,000
queries and as many row locks, about a third of the database server's time on the
ingest path (docs/benchmarks.md, twentieth session). The three foreign keys

- ``fk_sightings_device_id_devices`` (sightings.device_id → devices.id),
- ``fk_sightings_asset_id_assets`` (sightings.asset_id → assets.id),
- ``fk_custody_events_asset_id_assets`` (custody_events.asset_id → assets.id)

give way to triggers that keep the same guarantee:

- **Referencing side.** After each ``INSERT``/``COPY`` or ``UPDATE`` statement on
  ``sightings`` or ``custody_events``, one anti-join of the statement's new rows
  (transition table) against ``devices`` and ``assets`` finds any reference to a
  missing row and fails the statement with SQLSTATE 23503 (``foreign_key_violation``)
  and the old constraint's name, as the foreign key did.
- **Referenced side.** Before a statement deletes, renumbers (``UPDATE OF id``) or
  truncates ``devices`` or ``assets``, it takes ``sightings`` (and ``custody_events``)
  in ``SHARE`` mode: it waits for every transaction still inserting there and blocks
  new inserts until it ends. Afterwards, a row trigger refuses any removed id still
  referenced, and a ``TRUNCATE`` is refused while any row refers to the emptied table.

Without per-row locks, the race the foreign key's lock closed (a tap inserted for an
asset while another transaction deletes that asset) is closed by the table lock and by
``READ COMMITTED``, where each check query sees what has committed before it runs. In
``REPEATABLE READ`` or ``SERIALIZABLE``, a snapshot can be older than the lock, so:
inserts there lock the referenced rows ``FOR KEY SHARE`` as the foreign key did (a
concurrent delete makes them fail to serialise), and deletes, renumbering or truncation
of devices and assets are refused (nothing in Réemploi does any of them; an operator can
in ``READ COMMITTED``).

The declared tables (db/tables.py) keep the foreign keys: SQLite keeps them as they are,
and the schema test excludes these three on PostgreSQL.

Revision ID: 0011_ingest_refs_per_statement
Revises: 0010_assets_notify
Create Date: 2026-12-02 03:00:00
"""

from __future__ import annotations

from typing import NamedTuple

from alembic import op

revision = "0011_ingest_refs_per_statement"
down_revision = "0010_assets_notify"
branch_labels = None
depends_on = None


class Ref(NamedTuple):
    """A foreign key replaced: ``table.column`` refers to ``parent.id``."""

    fk: str
    table: str
    column: str
    parent: str


REPLACED = (
    Ref("fk_sightings_device_id_devices", "sightings", "device_id", "devices"),
    Ref("fk_sightings_asset_id_assets", "sightings", "asset_id", "assets"),
    Ref("fk_custody_events_asset_id_assets", "custody_events", "asset_id", "assets"),
)
REFERRING = tuple(dict.fromkeys(ref.table for ref in REPLACED))  # sightings, custody_events
REFERRED = tuple(dict.fromkeys(ref.parent for ref in REPLACED))  # devices, assets


def _refuse_any(ref: Ref, offender: str, source: str) -> str:
    """plpgsql: if ``SELECT offender FROM source`` finds a row, fail as ``ref``'s foreign
    key would (SQLSTATE 23503, its name, the offending value, in French)."""
    return f"""
            SELECT ({offender})::text INTO missing FROM {source} LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'violation de la clé étrangère « {ref.fk} » : '
                    '{ref.table}.{ref.column} = % absent de {ref.parent}.id',
                    quote_literal(missing)
                    USING ERRCODE = 'foreign_key_violation', CONSTRAINT = '{ref.fk}',
                    TABLE = '{ref.table}', COLUMN = '{ref.column}';
            END IF;"""


def _function(name: str, body: str) -> str:
    """A trigger function in plpgsql, with ``missing`` for :func:`_refuse_any`."""
    return f"""
        CREATE FUNCTION {name}() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            missing text;
        BEGIN
            {body}
            RETURN NULL;
        END
        $$
        """


def _insert_check(table: str) -> str:
    """The statement trigger function checking ``table``'s new rows (``new_rows``)."""
    refs = [ref for ref in REPLACED if ref.table == table]
    locks = " ".join(
        f"PERFORM 1 FROM {r.parent} WHERE id IN (SELECT {r.column} FROM new_rows) FOR KEY SHARE;"
        for r in refs
    )
    checks = "".join(
        _refuse_any(
            r,
            f"n.{r.column}",
            f"new_rows n WHERE n.{r.column} IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM {r.parent} p WHERE p.id = n.{r.column})",
        )
        for r in refs
    )
    return _function(
        f"reemploi_{table}_refs_check",
        f"""IF current_setting('transaction_isolation') <> 'read committed' THEN
                {locks}
            END IF;
            {checks}""",
    )


def _lock(parent: str) -> str:
    """The statement trigger function run before ``parent`` loses or renumbers rows."""
    referring = ", ".join(sorted({ref.table for ref in REPLACED if ref.parent == parent}))
    return _function(
        f"reemploi_{parent}_refs_lock",
        f"""IF current_setting('transaction_isolation') <> 'read committed' THEN
                RAISE EXCEPTION
                    'supprimer, renuméroter ou vider des lignes de {parent} exige le niveau '
                    'd''isolation READ COMMITTED (contrôle des références de {referring})'
                    USING ERRCODE = 'feature_not_supported';
            END IF;
            LOCK TABLE {referring} IN SHARE MODE;""",
    )


def _gone(parent: str) -> str:
    """The row trigger function refusing to remove a ``parent`` id still referenced."""
    checks = "".join(
        _refuse_any(r, "OLD.id", f"{r.table} WHERE {r.column} = OLD.id")
        for r in REPLACED
        if r.parent == parent
    )
    return _function(
        f"reemploi_{parent}_refs_gone",
        f"""IF EXISTS (SELECT 1 FROM {parent} WHERE id = OLD.id) THEN
                RETURN NULL;  -- renumbered rows gave the id back in the same statement
            END IF;
            {checks}""",
    )


def _emptied(parent: str) -> str:
    """The statement trigger function refusing a ``TRUNCATE`` of a referenced table."""
    checks = "".join(
        _refuse_any(r, r.column, f"{r.table} WHERE {r.column} IS NOT NULL")
        for r in REPLACED
        if r.parent == parent
    )
    return _function(f"reemploi_{parent}_refs_emptied", checks)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in REFERRING:
        op.execute(_insert_check(table))
        for event in ("INSERT", "UPDATE"):
            op.execute(
                f"CREATE TRIGGER {table}_refs_{event.lower()} AFTER {event} ON {table}"
                " REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
                f" EXECUTE FUNCTION reemploi_{table}_refs_check()"
            )
    for parent in REFERRED:
        op.execute(_lock(parent))
        op.execute(_gone(parent))
        op.execute(_emptied(parent))
        op.execute(
            f"CREATE TRIGGER {parent}_refs_lock"
            f" BEFORE DELETE OR UPDATE OF id OR TRUNCATE ON {parent}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION reemploi_{parent}_refs_lock()"
        )
        op.execute(
            f"CREATE TRIGGER {parent}_refs_deleted AFTER DELETE ON {parent}"
            f" FOR EACH ROW EXECUTE FUNCTION reemploi_{parent}_refs_gone()"
        )
        op.execute(
            f"CREATE TRIGGER {parent}_refs_renumbered AFTER UPDATE OF id ON {parent}"
            " FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id)"
            f" EXECUTE FUNCTION reemploi_{parent}_refs_gone()"
        )
        op.execute(
            f"CREATE TRIGGER {parent}_refs_emptied AFTER TRUNCATE ON {parent}"
            f" FOR EACH STATEMENT EXECUTE FUNCTION reemploi_{parent}_refs_emptied()"
        )
    for ref in REPLACED:
        op.drop_constraint(ref.fk, ref.table, type_="foreignkey")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for ref in REPLACED:
        op.create_foreign_key(ref.fk, ref.table, ref.parent, [ref.column], ["id"])
    for parent in REFERRED:
        for trigger in ("emptied", "renumbered", "deleted", "lock"):
            op.execute(f"DROP TRIGGER {parent}_refs_{trigger} ON {parent}")
        for function in ("emptied", "gone", "lock"):
            op.execute(f"DROP FUNCTION reemploi_{parent}_refs_{function}()")
    for table in REFERRING:
        for event in ("insert", "update"):
            op.execute(f"DROP TRIGGER {table}_refs_{event} ON {table}")
        op.execute(f"DROP FUNCTION reemploi_{table}_refs_check()")
