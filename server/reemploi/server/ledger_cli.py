"""``reemploi-ledger verify``: re-check the hash chain and name every broken row."""

from __future__ import annotations

import argparse
import sys

from .db.engine import make_engine
from .ledger import verify
from .settings import ServerSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="reemploi-ledger", description="Vérification du registre de garde (chaîne de hachage)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("verify", help="recalculer la chaîne et signaler toute altération")
    check.add_argument(
        "--database-url", default=None, help="URL SQLAlchemy (sinon REEMPLOI_DATABASE_URL)"
    )
    args = parser.parse_args(argv)
    url = args.database_url or ServerSettings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        problems = verify(conn)
        count = conn.exec_driver_sql("SELECT count(*) FROM custody_events").scalar_one()
    engine.dispose()
    if not problems:
        print(f"Registre intact : {count} événements, chaîne vérifiée.")
        return 0
    print(f"Registre ALTÉRÉ : {len(problems)} problème(s) sur {count} événements.")
    for problem in problems:
        print(f"  - [{problem.kind}] {problem.message}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
