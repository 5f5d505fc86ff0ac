# MQTT 3.1.1 client over asyncio streams, written for the reader (no third-party code).
#
# - CONNECT with a retained last will, keepalive with PINGREQ, QoS 1 publish that waits
#   for PUBACK and retransmits with DUP on timeout, subscriptions, optional TLS.
# - run() keeps the link up forever: connect, hand over to on_up(), wait for the link to
#   drop, back off (1 s doubling to max_backoff_ms, with jitter), try again.
# - QoS 1 means duplicates: the platform deduplicates scans by their idempotency key.
# Runs unchanged under MicroPython (ESP32, unix port) and CPython (reader simulator).
import random

from reader import mqtt_packet as mp
from reader.portable import asyncio, sleep_ms, ticks_diff, ticks_ms


class MqttError(Exception):
    """The link to the broker failed (network, timeout, protocol)."""


class ConnectRefused(MqttError):
    """The broker answered CONNACK with a non-zero code (e.g. 4: bad credentials)."""

    def __init__(self, code):
        super().__init__("broker refused the connection: " + mp.CONNACK_TEXT.get(code, str(code)))
        self.code = code


def pem_to_der(data):
    """The first certificate or key of a PEM text, as DER (MicroPython's TLS wants DER)."""
    import binascii

    text = data.decode() if isinstance(data, (bytes, bytearray)) else data
    if "-----BEGIN" not in text:
        return bytes(data)  # already DER
    lines = []
    inside = False
    for line in text.split("\n"):
        line = line.strip()
        if line.startswith("-----BEGIN"):
            inside = True
        elif line.startswith("-----END"):
            break
        elif inside and line:
            lines.append(line)
    return binascii.a2b_base64("".join(lines))


def tls_context(tls):
    """An SSL context from the config's ``tls`` dict (cafile, certfile, keyfile).

    Server certificates are always verified against the CA (never CERT_NONE). Raises
    OSError/ValueError when a file is missing or unreadable; the config check reports it.
    """
    import ssl

    if hasattr(ssl, "create_default_context"):  # CPython
        ctx = getattr(ssl, "create_default_context")(cafile=tls.get("cafile"))
        if tls.get("certfile"):
            ctx.load_cert_chain(tls["certfile"], tls.get("keyfile"))
        return ctx
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    with open(tls["cafile"], "rb") as f:
        ctx.load_verify_locations(cadata=pem_to_der(f.read()))
    if tls.get("certfile"):
        with open(tls["certfile"], "rb") as f:
            cert = pem_to_der(f.read())
        with open(tls["keyfile"], "rb") as f:
            key = pem_to_der(f.read())
        ctx.load_cert_chain(cert, key)
    return ctx


class MqttClient:
    def __init__(self, host, port, client_id, keepalive_s=60, user=None, password=None,
                 tls=None, will=None, on_message=None, ack_timeout_ms=3000, retries=2,
                 connect_timeout_ms=10000, max_backoff_ms=60000):
        self.host = host
        self.port = port
        self.client_id = client_id
        self.keepalive_s = keepalive_s
        self.user = user
        self.password = password
        self.tls = tls  # None, or an SSL context
        self.will = will  # (topic, payload, retain) or None
        self.on_message = on_message  # callback(topic, payload), may be a coroutine fn
        self.ack_timeout_ms = ack_timeout_ms
        self.retries = retries
        self.connect_timeout_ms = connect_timeout_ms
        self.max_backoff_ms = max_backoff_ms
        self.connected = False
        self.last_error = None
        self.counters = {"connects": 0, "connect_failures": 0, "refused": 0,
                         "retransmits": 0, "link_drops": 0, "bad_packets": 0}
        self._reader = None
        self._writer = None
        self._next_id = 0
        self._pending = {}  # packet id -> Event (PUBACK/SUBACK awaited)
        self._down = asyncio.Event()
        self._tasks = []
        self._last_rx = 0
        self._last_tx = 0
        self._write_lock = asyncio.Lock()
        self._stopped = False

    # ---------------------------------------------------------------- link

    async def connect(self):
        """Open the connection and complete CONNECT/CONNACK, or raise MqttError."""
        self._down = asyncio.Event()
        try:
            if self.tls is not None:
                coro = asyncio.open_connection(self.host, self.port, ssl=self.tls)
            else:
                coro = asyncio.open_connection(self.host, self.port)
            self._reader, self._writer = await asyncio.wait_for(coro, self.connect_timeout_ms / 1000)
            will_topic = will_payload = None
            retain = True
            if self.will:
                will_topic, will_payload, retain = self.will
            await self._send(mp.connect(self.client_id, self.keepalive_s, self.user, self.password,
                                        will_topic, will_payload or b"", retain))
            packet = await asyncio.wait_for(self._read_packet(), self.connect_timeout_ms / 1000)
        except MqttError:
            await self._close_streams()
            raise
        except Exception as exc:  # OSError, TLS errors, timeouts, EOF
            await self._close_streams()
            raise MqttError("cannot connect to " + str(self.host) + ":" + str(self.port) + ": "
                            + repr(exc)) from None
        if packet[0] != mp.CONNACK:
            await self._close_streams()
            raise MqttError("expected CONNACK")
        if packet[2] != 0:
            await self._close_streams()
            raise ConnectRefused(packet[2])
        self.connected = True
        self.counters["connects"] += 1
        self._last_rx = ticks_ms()
        self._tasks = [asyncio.create_task(self._receive_loop()),
                       asyncio.create_task(self._keepalive_loop())]

    async def disconnect(self):
        """Clean DISCONNECT: the broker does not publish the last will."""
        self._stopped = True
        if self.connected:
            try:
                await self._send(mp.disconnect())
            except Exception:
                pass
        await self._drop("disconnect")

    async def abort(self):
        """Drop the link without DISCONNECT (as a reset does): the broker sends the will."""
        self._stopped = True
        await self._drop("abort")

    async def wait_down(self):
        await self._down.wait()

    async def run(self, on_up=None, on_refused=None, prepare=None):
        """Keep connected forever; ``on_up()`` runs after every successful connect,
        ``prepare()`` before every attempt (the reader brings Wi-Fi back there)."""
        backoff = 1000
        self._stopped = False
        while not self._stopped:
            try:
                if prepare is not None:
                    await prepare()
                await self.connect()
            except ConnectRefused as exc:
                self.counters["refused"] += 1
                self.last_error = str(exc)
                print("mqtt:", exc)
                if on_refused:
                    on_refused(exc.code)
            except MqttError as exc:
                self.counters["connect_failures"] += 1
                self.last_error = str(exc)
            else:
                backoff = 1000
                if on_up is not None:
                    try:
                        await on_up()
                    except Exception as exc:  # subscription failed: the link is bad
                        self.last_error = "on_up: " + repr(exc)
                        await self._drop("on_up failed")
                await self._down.wait()
                if self._stopped:
                    break
                continue
            jitter = random.getrandbits(8) * backoff // 1024  # up to +25 %
            await sleep_ms(backoff + jitter)
            backoff = min(backoff * 2, self.max_backoff_ms)

    # ---------------------------------------------------------------- operations

    def _packet_id(self):
        self._next_id = self._next_id % 0xFFFF + 1
        return self._next_id

    async def subscribe(self, topics):
        """Subscribe to ``[(topic, qos), ...]`` and wait for SUBACK."""
        pid = self._packet_id()
        entry = [asyncio.Event(), False]
        self._pending[pid] = entry
        try:
            await self._send(mp.subscribe(pid, topics))
            await asyncio.wait_for(entry[0].wait(), self.ack_timeout_ms / 1000)
        except Exception as exc:
            raise MqttError("subscribe failed: " + repr(exc)) from None
        finally:
            self._pending.pop(pid, None)

    async def publish(self, topic, payload, qos=1, retain=False):
        """Publish; with QoS 1, return once the broker's PUBACK arrives.

        Retransmits with DUP after ack_timeout_ms (``retries`` times), then declares the
        link dead and raises MqttError: the caller keeps the message for the next link.
        """
        if not self.connected:
            raise MqttError("not connected")
        if qos == 0:
            await self._send(mp.publish(topic, payload, 0, retain))
            return
        pid = self._packet_id()
        entry = [asyncio.Event(), False]  # [woken, PUBACK received]
        self._pending[pid] = entry
        try:
            for attempt in range(self.retries + 1):
                if attempt:
                    self.counters["retransmits"] += 1
                await self._send(mp.publish(topic, payload, 1, retain, attempt > 0, pid))
                try:
                    await asyncio.wait_for(entry[0].wait(), self.ack_timeout_ms / 1000)
                except asyncio.TimeoutError:
                    pass
                if entry[1]:
                    return
                if not self.connected:
                    raise MqttError("link dropped before PUBACK")
            await self._drop("no PUBACK")
            raise MqttError("no PUBACK for packet " + str(pid))
        finally:
            self._pending.pop(pid, None)

    # ---------------------------------------------------------------- internals

    async def _send(self, data):
        writer = self._writer
        if writer is None:
            raise MqttError("not connected")
        async with self._write_lock:
            try:
                writer.write(data)
                await writer.drain()
            except Exception as exc:
                await self._drop("write failed")
                raise MqttError("write failed: " + repr(exc)) from None
        self._last_tx = ticks_ms()

    async def _read_packet(self) -> tuple:
        reader = self._reader
        if reader is None:
            raise MqttError("not connected")
        first = (await reader.readexactly(1))[0]
        buf = bytearray(await reader.readexactly(1))
        while buf[-1] & 0x80:
            if len(buf) == 4:
                raise mp.MqttProtocolError("remaining length longer than 4 bytes")
            buf += await reader.readexactly(1)
        it = iter(buf)
        length = mp.decode_remaining_length(lambda: next(it))
        body = await reader.readexactly(length) if length else b""
        return mp.parse(first, body)

    async def _receive_loop(self):
        try:
            while self.connected:
                packet = await self._read_packet()
                self._last_rx = ticks_ms()
                kind = packet[0]
                if kind == mp.PUBLISH:
                    _, topic, payload, qos, pid, _retain, _dup = packet
                    if qos == 1:
                        await self._send(mp.puback(pid))
                    if self.on_message is not None:
                        try:
                            result = self.on_message(topic, payload)
                            if result is not None and hasattr(result, "send"):
                                await result
                        except Exception as exc:  # a bad message must not kill the link
                            self.counters["bad_packets"] += 1
                            print("mqtt: message handler failed:", repr(exc))
                elif kind in (mp.PUBACK, mp.SUBACK):
                    entry = self._pending.get(packet[1])
                    if entry is not None:
                        entry[1] = True
                        entry[0].set()
        except mp.MqttProtocolError as exc:
            self.counters["bad_packets"] += 1
            self.last_error = "protocol: " + str(exc)
        except Exception as exc:  # EOF, reset, TLS alert, cancelled
            if self.connected:
                self.last_error = "receive: " + repr(exc)
        await self._drop("receive loop ended")

    async def _keepalive_loop(self):
        period = self.keepalive_s * 1000
        try:
            while self.connected:
                await sleep_ms(min(period // 4, 5000) if period else 5000)
                if not period or not self.connected:
                    continue
                now = ticks_ms()
                if ticks_diff(now, self._last_rx) > period * 3 // 2:
                    self.last_error = "keepalive: broker silent"
                    break
                if ticks_diff(now, self._last_tx) >= period // 2:
                    await self._send(mp.pingreq())
        except Exception:
            pass
        await self._drop("keepalive")

    async def _drop(self, why):
        if self.connected:
            self.counters["link_drops"] += 1
        was = self.connected
        self.connected = False
        for entry in self._pending.values():
            entry[0].set()  # wake waiters; they see no PUBACK and connected == False
        current = asyncio.current_task()
        for task in self._tasks:
            if task is not current:
                try:
                    task.cancel()
                except Exception:
                    pass
        self._tasks = []
        await self._close_streams()
        if was and why != "disconnect":
            print("mqtt: link down:", why, self.last_error or "")
        self._down.set()

    async def _close_streams(self):
        writer = self._writer
        self._writer = None
        self._reader = None
        if writer is not None:
            try:
                writer.close()
                await writer.wait_closed()
            except Exception:
                pass
