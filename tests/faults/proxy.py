"""A TCP proxy a test can cut and restore: a broker outage for one client, not for the machine."""

import eventlet
from eventlet.green import socket


class CuttableProxy:
    def __init__(self, upstream_host="127.0.0.1", upstream_port=5672):
        self.upstream = (upstream_host, upstream_port)
        self.listener = eventlet.listen(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.stalled = False
        self.held = []
        self.connections = set()
        self.refused = 0  # connections refused while cut: proof that a client tried
        self._server = eventlet.spawn(self._serve)

    def uri(self, amqp_uri):
        """`amqp_uri` with its host and port replaced by the proxy's."""
        scheme, rest = amqp_uri.split("://", 1)
        creds, _, hostpath = rest.rpartition("@")
        path = hostpath.split("/", 1)[1] if "/" in hostpath else ""
        return f"{scheme}://{creds + '@' if creds else ''}127.0.0.1:{self.port}/{path}"

    def _serve(self):
        while True:
            client, _ = self.listener.accept()
            if self.stalled:  # accepted, and then nothing: a broker that never answers
                self.held.append(client)
                continue
            if not self.open:
                self.refused += 1
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            self.connections.update((client, upstream))
            eventlet.spawn_n(self._connection, client, upstream)

    def _connection(self, client, upstream):
        # each pump only half-closes its destination; the sockets are closed once, here, when
        # both directions are done (closing a socket another greenthread reads upsets the hub)
        pumps = [
            eventlet.spawn(self._pump, client, upstream),
            eventlet.spawn(self._pump, upstream, client),
        ]
        for pump in pumps:
            pump.wait()
        for sock in (client, upstream):
            self.connections.discard(sock)
            sock.close()

    def _pump(self, src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not self.stalled:
                    dst.sendall(data)
        except OSError:
            pass
        for sock in (dst, src):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        """Drop every connection and refuse new ones (the broker is 'down' for these clients)."""
        self.open = False
        # shutdown only: the pumps see end-of-stream and close their own sockets (closing a
        # socket another greenthread is reading from upsets eventlet's hub)
        for sock in list(self.connections):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        eventlet.sleep(0.1)

    def stall(self):
        """Keep every connection open and accept new ones, but carry nothing either way: a
        broker that hangs (the worst case for anything waiting on it)."""
        self.stalled = True

    def restore(self):
        self.open = True
        self.stalled = False
        for sock in self.held:
            sock.close()
        self.held.clear()

    def close(self):
        self.cut()
        self._server.kill()
        self.listener.close()
