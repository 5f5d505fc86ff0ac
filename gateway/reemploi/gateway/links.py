"""The bridge's two paho-mqtt 2.x clients (local readers, central platform).

paho's network threads never decide anything: every callback only puts an event on the
bridge's queue. Events carry the *generation* of the connection they come from, so that
after :meth:`Links.reconnect_local` or :meth:`Links.replace_central` the bridge can
ignore what the previous connection still had in the queue (a message id of an old
connection means nothing on the new one)::

    ("in", mid, topic, payload, local_gen)     a reader message, to be acked by us
    ("local_link", up)
    ("link", True, receive_maximum, central_gen)
    ("link", False, LinkProblem | None, central_gen)
    ("puback", mid, reason, central_gen)       reason: None, or an MQTT 5 failure code
                                               as text ("0x87 Not authorized")
    ("down", topic, payload)                   an ack or command for a reader
"""

from __future__ import annotations

import contextlib
import queue
import socket
import sys
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties

from .central_link import connack_problem, connect_problem, make_central_client
from .settings import GatewaySettings


class Links:
    def __init__(self, settings: GatewaySettings, events: queue.Queue[tuple[Any, ...]]) -> None:
        self.s = settings
        self.events = events
        self.local_gen = 0
        self.central_gen = 0
        self.local = self._local_client()
        self.central = self._central_client()

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        s = self.s
        self.central.connect_async(s.central_host, s.central_port, keepalive=30)
        self.local.connect_async(s.local_host, s.local_port, keepalive=30)
        self.central.loop_start()
        self.local.loop_start()

    def stop(self) -> None:
        self.central.disconnect()
        self.local.disconnect()
        self.central.loop_stop()
        self.local.loop_stop()

    def reconnect_local(self) -> None:
        """Disconnect and connect again: the local broker redelivers every message we left
        unacknowledged (persistent session). Older queued ``in`` events become stale."""
        self.local.disconnect()
        self.local.loop_stop()
        self.local_gen += 1
        self.local.connect_async(self.s.local_host, self.s.local_port, keepalive=30)
        self.local.loop_start()

    def replace_central(self, settings: GatewaySettings) -> None:
        """A new central client with new settings (reload): the old one is closed first."""
        self.central.disconnect()
        self.central.loop_stop()
        self.s = settings
        self.central_gen += 1
        self.central = self._central_client()
        self.central.connect_async(settings.central_host, settings.central_port, keepalive=30)
        self.central.loop_start()

    # ------------------------------------------------------------ clients

    def _local_client(self) -> mqtt.Client:
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{self.s.gateway_id}-bridge",
            clean_session=False,  # the local broker keeps what we have not acked
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if self.s.local_username:
            pw = self.s.local_password.get_secret_value() if self.s.local_password else None
            c.username_pw_set(self.s.local_username, pw)
        c.max_inflight_messages_set(100)
        c.reconnect_delay_set(1, 5)
        c.on_connect = self._local_connected
        c.on_disconnect = lambda *a: self.events.put(("local_link", False))
        c.on_message = lambda _c, _u, m: self.events.put(
            ("in", m.mid, m.topic, m.payload, self.local_gen)
        )
        return c

    def _central_client(self) -> mqtt.Client:
        s = self.s
        gen = self.central_gen
        c = make_central_client(s)
        c.max_inflight_messages_set(s.window)
        c.max_queued_messages_set(0)
        c.reconnect_delay_set(1, 10)
        c.on_connect = lambda c_, u, f, rc, p: self._central_connected(c_, rc, p, gen)
        c.on_connect_fail = lambda _c, _u: self.events.put(
            # called inside paho's `except OSError:`: the exception is the current one
            ("link", False, connect_problem(sys.exc_info()[1]), gen)
        )
        c.on_disconnect = lambda *a: self.events.put(("link", False, None, gen))
        c.on_publish = lambda _c, _u, mid, rc, _p: self.events.put(
            ("puback", mid, f"0x{rc.value:02X} {rc.getName()}" if rc.is_failure else None, gen)
        )
        c.on_message = lambda _c, _u, m: self.events.put(("down", m.topic, m.payload))
        return c

    def _local_connected(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        _nodelay(client)
        if rc.is_failure:
            self.events.put(("local_link", False))
            return
        site = self.s.site
        client.subscribe(
            [(f"reemploi/v1/{site}/+/{kind}", 1) for kind in ("scan", "status", "report")]
        )
        self.events.put(("local_link", True))

    def _central_connected(
        self, client: mqtt.Client, rc: Any, props: Properties | None, gen: int
    ) -> None:
        _nodelay(client)
        if rc.is_failure:
            self.events.put(("link", False, connack_problem(rc), gen))
            return
        receive_max = getattr(props, "ReceiveMaximum", None) if props is not None else None
        site = self.s.site
        client.subscribe([(f"reemploi/v1/{site}/+/ack", 1), (f"reemploi/v1/{site}/+/cmd", 1)])
        self.events.put(("link", True, receive_max, gen))


def _nodelay(client: mqtt.Client) -> None:
    """TCP_NODELAY once connected (with Nagle, every ack gained a 20-65 ms floor)."""
    sock = client.socket()
    if sock is not None:
        raw: Any = getattr(sock, "_sock", sock)  # under TLS, the wrapped socket
        with contextlib.suppress(OSError):
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
