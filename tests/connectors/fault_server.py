"""A fault-injecting OpenAI-compatible server on 127.0.0.1, for the connector tests.

Each request takes the next scripted behaviour (then ``ok`` once the script is used
up): a normal reply, an HTTP error with headers and a body, a dropped connection, a
malformed body, a stream that stops early, or a stall. The server records what it
received (paths, headers, bodies) for assertions, serves from daemon threads, and
shuts itself down after ``LIFETIME`` seconds if a test forgets to.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

LIFETIME = 120.0
#: Longest a "stall" behaviour waits before giving up by itself.
MAX_STALL = 10.0


@dataclass
class Fault:
    """One scripted behaviour (see the module docstring for the kinds)."""

    kind: str = "ok"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    seconds: float = 0.0
    chunks: tuple[str, ...] = ("Hello", " world", "!")


OK = Fault()


def completion(text: str, model: str = "m") -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}


def chunk(text: str | None, finish: str | None = None, model: str = "m") -> str:
    delta = {"content": text} if text is not None else {}
    data = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(data)}\n\n"


class FaultServer:
    """The server; ``script(...)`` queues behaviours, ``requests`` records traffic."""

    def __init__(self, reply: str = "Hello world!", model: str = "m") -> None:
        self.reply = reply
        self.model = model
        self.faults: deque[Fault] = deque()
        self.requests: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._timer = threading.Timer(LIFETIME, self.close)
        self._timer.daemon = True

    def start(self) -> FaultServer:
        self._thread.start()
        self._timer.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()

    def script(self, *faults: Fault) -> None:
        self.faults.clear()
        self.faults.extend(faults)
        self.requests.clear()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self._send(200, json.dumps({"object": "list", "data": []}))

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append({"path": self.path, "headers": dict(self.headers),
                                        "body": body})
                fault = server.faults.popleft() if server.faults else OK
                server._serve(self, fault, body)

            def _send(self, status: int, text: str, headers: dict[str, str] | None = None,
                      content_type: str = "application/json") -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def _serve(self, h: Any, fault: Fault, body: dict[str, Any]) -> None:
        streaming = bool(body.get("stream"))
        if fault.kind == "status":
            h._send(fault.status, fault.body or json.dumps(
                {"error": {"message": f"scripted {fault.status}"}}), fault.headers)
        elif fault.kind == "drop":
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
        elif fault.kind == "malformed":
            h._send(200, fault.body or '{"id": "c1", "choices": [{"message": ')
        elif fault.kind == "stall":
            self._stop.wait(min(fault.seconds, MAX_STALL))
            h.close_connection = True
        elif "embeddings" in h.path:
            data = [{"object": "embedding", "index": i, "embedding": [1.0, float(i)]}
                    for i, _ in enumerate(body.get("input") or [])]
            h._send(200, json.dumps({"object": "list", "data": data, "model": self.model,
                                     "usage": {"prompt_tokens": 1, "total_tokens": 1}}))
        elif streaming:
            self._stream(h, fault)
        else:
            h._send(200, json.dumps(completion(self.reply, self.model)))

    def _stream(self, h: Any, fault: Fault) -> None:
        """SSE in chunked encoding; the fault decides how it ends."""
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()

        def write(text: str) -> None:
            data = text.encode()
            h.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
            h.wfile.flush()

        pieces = fault.chunks if fault.kind != "ok" else _split(self.reply)
        for piece in pieces:
            write(chunk(piece, model=self.model))
        if fault.kind == "truncated_sse":  # a clean end of the body, but no finish
            h.wfile.write(b"0\r\n\r\n")
            h.wfile.flush()
            return
        if fault.kind == "drop_mid_stream":  # the connection dies inside the body
            h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        if fault.kind == "stall_mid_stream":
            self._stop.wait(min(fault.seconds, MAX_STALL))
            h.close_connection = True
            return
        write(chunk(None, "stop", self.model))
        write("data: [DONE]\n\n")
        h.wfile.write(b"0\r\n\r\n")
        h.wfile.flush()


def _split(text: str) -> list[str]:
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]
