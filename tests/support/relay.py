"""A TCP relay that counts what clients send (tests of round trips)."""

from __future__ import annotations

import select
import socket
import threading


class Relay:
    """A TCP relay to ``(host, port)`` on a free loopback port, counting the chunks the
    clients' side delivers (all connections together): one ``send`` of a few kilobytes
    on the loopback arrives whole."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.from_client = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        server = socket.create_connection(self.target)
        ends = {client: server, server: client}
        while True:
            for sock in select.select(list(ends), [], [])[0]:
                data = sock.recv(1 << 20)
                if not data:
                    client.close()
                    server.close()
                    return
                if sock is client:
                    with self._lock:
                        self.from_client += 1
                ends[sock].sendall(data)
