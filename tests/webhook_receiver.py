"""A real HTTP server standing in for a hospital's webhook endpoint (tests only)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.conftest import free_port


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records every POST; answers ``status`` (after ``delay_s``). Use as a context manager."""

    def __init__(self, status: int = 200, delay_s: float = 0.0) -> None:
        self.status = status
        self.delay_s = delay_s
        self.received: list[Received] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer._lock:
                    outer.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                self.send_response(outer.status)
                self.send_header("Content-Type", "text/plain")
                reply = b"ok" if outer.status < 300 else b"receiver is down for maintenance"
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.url = f"http://127.0.0.1:{self.port}/hooks/elsnet"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def wait_for(self, n: int, timeout: float = 30.0) -> list[Received]:
        t0 = time.time()
        while time.time() - t0 < timeout:
            got = self.snapshot()
            if len(got) >= n:
                return got
            time.sleep(0.2)
        raise TimeoutError(f"the receiver got {len(self.snapshot())} of {n} POSTs in {timeout} s")
