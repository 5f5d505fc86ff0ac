"""``reemploi-dashboards``: generate, check or push the Grafana dashboards.

reemploi-dashboards generate [--dir dashboards]
reemploi-dashboards check [--dir dashboards]        # exit 1 when files are stale
reemploi-dashboards push --url https://grafana.example.org
    # credential: GRAFANA_TOKEN (service-account token) or GRAFANA_USER/GRAFANA_PASSWORD
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from pathlib import Path

from .dashboards.preview import query_map_data, render_flow_map
from .dashboards.publish import differences, push, write_generated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="reemploi-dashboards",
        description="Tableaux de bord Grafana de Réemploi / Réemploi's Grafana dashboards",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("generate", "écrit le JSON et le provisioning / write JSON and provisioning files"),
        ("check", "vérifie qu'ils sont à jour / fail if they differ from the code"),
    ):
        command = sub.add_parser(name, help=text)
        command.add_argument("--dir", type=Path, default=Path("dashboards"))
    preview = sub.add_parser("preview", help="aperçu SVG de la carte / flow-map SVG preview")
    preview.add_argument("--influx-url", required=True)
    preview.add_argument("--database", required=True)
    preview.add_argument("--start", type=datetime.fromisoformat, required=True)
    preview.add_argument("--end", type=datetime.fromisoformat, required=True)
    preview.add_argument("--out", type=Path, required=True)
    push_cmd = sub.add_parser("push", help="envoie à un Grafana / push to a running Grafana")
    push_cmd.add_argument("--url", default=os.environ.get("GRAFANA_URL"))
    push_cmd.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)

    if args.command == "generate":
        for path in write_generated(args.dir):
            print(path)
        return 0
    if args.command == "check":
        problems = differences(args.dir)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("lancez / run: reemploi-dashboards generate", file=sys.stderr)
        return 1 if problems else 0

    if args.command == "preview":
        nodes, edges = query_map_data(args.influx_url, args.database, args.start, args.end)
        args.out.write_text(render_flow_map(nodes, edges), encoding="utf-8")
        print(args.out)
        return 0
    if not args.url:
        parser.error("--url ou / or GRAFANA_URL requis / required")
    token = os.environ.get("GRAFANA_TOKEN")
    user, password = os.environ.get("GRAFANA_USER"), os.environ.get("GRAFANA_PASSWORD")
    credential: str | tuple[str, str] | None = token or (
        (user, password) if user and password else None
    )
    try:
        results = push(args.url, credential, timeout_s=args.timeout)
    except Exception as exc:  # report the outside world's refusal plainly
        print(f"échec de l'envoi à Grafana / push failed: {exc}", file=sys.stderr)
        return 2
    for result in results:
        print(f"{result.uid}\t{result.status}\t{result.url or ''}\t{result.title}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
