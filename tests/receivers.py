"""A real local webhook receiver for notification tests: an http.server in a thread that
records every POST and can be told to fail (for every path, or per path) or to be slow."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from warroom.notify import channels


@dataclass
class Hit:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int  # what the receiver answered

    def json(self) -> Any:
        return json.loads(self.body)

    def signed_by(self, secret: str) -> bool:
        return self.headers.get("x-warroom-signature") == channels.signature(secret, self.body)


class WebhookReceiver:
    """Records every POST in `hits`. `status` is the answer for every path (a test sets
    503 to play a broken receiver), `failing[path]` overrides it for one path, and
    `delay` makes each request take that many seconds. Starts at once."""

    def __init__(self, status: int = 200, delay: float = 0.0) -> None:
        self.status = status
        self.delay = delay
        self.failing: dict[str, int] = {}
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                with receiver.lock:
                    status = receiver.failing.get(self.path, receiver.status)
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.hits.append(Hit(self.path, headers, body, status))
                answer = b'{"ok": true}' if status < 300 else b'{"error": "receiver down"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def start(self) -> WebhookReceiver:
        """For chaining: `WebhookReceiver().start()` (it is already serving)."""
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def received(self) -> list[Hit]:
        """The requests that were answered with success."""
        with self.lock:
            return [h for h in self.hits if h.status < 300]

    def at(self, path: str, ok_only: bool = True) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path and (h.status < 300 or not ok_only)]

    def bodies(self) -> list[Any]:
        return [h.json() for h in self.received]
