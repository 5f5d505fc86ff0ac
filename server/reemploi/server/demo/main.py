"""``make demo`` / ``reemploi-demo``: the whole chain on one machine, nothing to install.

An in-process MQTT broker (amqtt) — or Mosquitto when ``--mqtt-url`` is given —, SQLite
in ``var/demo``, the server, and readers at Grenoble-area sites tapping tagged equipment:
each reader is the reader firmware itself on simulated NFC hardware (see ``readers``),
all in this one asyncio loop. Prints the URL of the French live page; Ctrl-C stops
everything cleanly; a second run keeps the data (ledger, sequence numbers, queues).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from ..api.app import build_state, create_app
from ..ingest.mqtt import BrokerAddress
from ..market.config import MarketSettings
from ..market.roles import Role
from ..market.seed import DEMO_PASSWORD, email_for, seed_people
from ..settings import ServerSettings
from .flows import Storyline
from .readers import FirmwareReader
from .territory import DEVICES, load_territory

log = logging.getLogger("reemploi.demo")

FEEDBACK_FR = {
    "accept": "acceptée",
    "refuse": "refusée",
    "unknown": "étiquette inconnue",
    "queued": "en attente (réseau)",
    "error": "erreur du lecteur",
    None: "non lue",
}


def port_or_free(preferred: int) -> int:
    for candidate in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("aucun port libre")


def seed(state: Any) -> bool:
    """Load the territory when the database is empty; True when it did."""
    with state.engine.begin() as conn:
        return load_territory(conn)


class _QuietServer(uvicorn.Server):
    """uvicorn server whose stop is ours: Ctrl-C sets ``should_exit`` and the demo then
    shuts the readers, ingest and broker down in order (uvicorn would re-raise the
    signal and cancel that clean-up)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def request_stop(self) -> None:
        if self.should_exit:
            self.force_exit = True
        self.should_exit = True


async def start_amqtt(port: int) -> Any:
    from amqtt.broker import Broker

    broker = Broker(
        {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
    )
    await broker.start()
    return broker


async def run(args: argparse.Namespace) -> int:
    data = Path(args.data_dir)
    data.mkdir(parents=True, exist_ok=True)
    broker = None
    if args.mqtt_url:
        mqtt_url = args.mqtt_url
    else:
        mqtt_port = port_or_free(args.mqtt_port)
        broker = await start_amqtt(mqtt_port)
        mqtt_url = f"mqtt://127.0.0.1:{mqtt_port}"
    settings = ServerSettings(
        database_url=f"sqlite:///{data / 'reemploi.db'}",
        mqtt_url=mqtt_url,
        mqtt_client_id="reemploi-server-demo",
    )
    state = build_state(settings)
    fresh = seed(state)
    if fresh:
        with state.engine.begin() as conn:
            seed_people(conn)  # one demonstration account per marketplace role
    story = Storyline(state.engine, seed=args.seed)
    if fresh:
        story.declare(24)
    http_port = port_or_free(args.port)
    # plain http on 127.0.0.1: the marketplace's session cookie cannot be Secure here
    app = create_app(state, MarketSettings(cookie_secure=False))
    if state.ingest is not None:
        state.ingest.start(wait_s=0)  # started here, not by the ASGI lifespan (off below)
    server = _QuietServer(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=http_port,
            log_level="warning",
            access_log=False,
            lifespan="off",  # a second Ctrl-C must not leave a lifespan task to cancel
        )
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.request_stop)
    address = BrokerAddress.from_url(mqtt_url)

    def on_result(device: str, uri: str, pattern: str | None) -> None:
        if args.verbose:
            print(f"  {device} : {uri} {FEEDBACK_FR.get(pattern, pattern)}", flush=True)

    readers = {d.id: FirmwareReader(d.id, d.site_id, address, data, on_result) for d in DEVICES}

    async def storyline() -> None:
        await asyncio.sleep(1.0)
        tick = 0
        while not server.should_exit:
            tick += 1
            if tick % 12 == 0:
                await asyncio.to_thread(story.declare, story.rng.randint(1, 4))
            tap = await asyncio.to_thread(story.next_tap)
            # a tag still waiting at a reader is not tapped again (the ledger lags)
            if tap is not None and not any(tap.uri in r.pending for r in readers.values()):
                await readers[tap.device].tap(tap.uri)
            await asyncio.sleep(args.interval)

    async def stop_after(seconds: float) -> None:
        await asyncio.sleep(seconds)
        server.should_exit = True

    async def announce() -> None:
        # the URL is printed once the HTTP server listens, so that it answers at once
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.05)
        print(
            "\nRéemploi — démonstration en cours\n"
            f"  Page en direct : http://127.0.0.1:{http_port}/\n"
            f"  API (OpenAPI)  : http://127.0.0.1:{http_port}/docs\n"
            f"  Place de marché : http://127.0.0.1:{http_port}/m/ — comptes de démonstration "
            f"{email_for(Role.WORKSHOP)}, {email_for(Role.PUBLIC_BODY)}… "
            f"(un par rôle), mot de passe {DEMO_PASSWORD}\n"
            f"  Broker MQTT    : {mqtt_url}{' (amqtt intégré)' if broker else ''}\n"
            f"  Données        : {data.resolve()} ({'nouvelles' if fresh else 'reprises'})\n"
            "  Ctrl-C pour arrêter.\n",
            flush=True,
        )

    for reader in readers.values():
        reader.start()
    tasks = [asyncio.create_task(announce()), asyncio.create_task(storyline())]
    if args.duration:
        tasks.append(asyncio.create_task(stop_after(args.duration)))
    try:
        await server.serve()
    finally:
        for task in tasks:
            task.cancel()
        # the readers run in this loop, as does the in-process broker: nothing blocks
        await asyncio.gather(*(r.stop() for r in readers.values()), return_exceptions=True)
        if state.ingest is not None:
            await asyncio.to_thread(state.ingest.wait_idle, 5)
            await asyncio.to_thread(state.ingest.stop)
            state.ingest = None
        if broker is not None:
            await broker.shutdown()
        with state.engine.connect() as conn:
            from ..queries import ingest_stats

            stats = ingest_stats(conn)
        await asyncio.to_thread(state.close)
        print(f"Arrêt propre. Registre : {stats['ledger_events']} événements.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reemploi-demo", description=__doc__)
    parser.add_argument("--data-dir", default="var/demo", help="dossier des données (SQLite)")
    parser.add_argument("--port", type=int, default=8000, help="port HTTP souhaité")
    parser.add_argument("--mqtt-port", type=int, default=1883, help="port du broker intégré")
    parser.add_argument("--mqtt-url", default=None, help="utiliser ce broker (ex. Mosquitto)")
    parser.add_argument("--interval", type=float, default=0.5, help="secondes entre deux lectures")
    parser.add_argument("--duration", type=float, default=0, help="s'arrêter après N secondes")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
