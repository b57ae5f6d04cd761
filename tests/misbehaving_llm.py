"""A real HTTP server that speaks just enough of the OpenAI chat API to be
used by the real ``OpenAIChatGenerator``, and misbehaves on request.

Modes (``server.mode = ...``, switchable while it runs):

- ``ok``: streams ``reply`` in small server-sent events, then ``[DONE]``;
- ``die``: streams a few events, then drops the connection (a server killed
  mid-answer);
- ``hang``: accepts the request and never answers (a wedged server);
- ``stall``: sends the response headers and one event, then nothing;
- ``dribble``: one short event every ``dribble_s`` seconds, for ever;
- ``garbage``: HTTP 200 with a body that is not server-sent JSON events;
- ``html``: an HTML error page with HTTP 502, as a broken proxy returns.

``/v1/models`` lists one model; ``/health`` answers 200 unless the mode is
``hang``. Only loopback; stop it with ``close()``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("ok", "die", "hang", "stall", "dribble", "garbage", "html")


class MisbehavingLLM:
    def __init__(self, reply: str = "Answer [1].", dribble_s: float = 0.5) -> None:
        self.mode = "ok"
        self.reply = reply
        self.dribble_s = dribble_s
        self.requests = 0
        self._closing = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/health"):
                    if outer.mode == "hang":
                        outer._closing.wait(60)
                        return
                    self._send(200, b"ok", "text/plain")
                elif self.path.startswith("/v1/models"):
                    body = {"object": "list", "data": [{"id": "misbehaving", "object": "model"}]}
                    self._send(200, json.dumps(body).encode(), "application/json")
                else:
                    self._send(404, b"not found", "text/plain")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                outer.requests += 1
                outer._answer(self)

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    # -- answering ---------------------------------------------------------

    def _event(self, text: str) -> bytes:
        chunk = {
            "id": "x",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": "misbehaving",
            "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
        }
        return f"data: {json.dumps(chunk)}\n\n".encode()

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        mode = self.mode
        out = handler.wfile
        if mode == "hang":
            self._closing.wait(60)
            return
        if mode == "html":
            body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            handler.send_response(502)
            handler.send_header("content-type", "text/html")
            handler.send_header("content-length", str(len(body)))
            handler.end_headers()
            out.write(body)
            return
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        if mode == "garbage":
            body = b"data: {not json at all\n\ndata: \x00\x01\x02\n\n"
            handler.send_header("content-length", str(len(body)))
            handler.end_headers()
            out.write(body)
            return
        handler.send_header("connection", "close")
        handler.end_headers()
        words = self.reply.split(" ")
        if mode == "ok":
            for i, word in enumerate(words):
                out.write(self._event(word if i == 0 else " " + word))
            out.write(b"data: [DONE]\n\n")
            out.flush()
            return
        if mode == "die":
            out.write(self._event(words[0]))
            out.flush()
            time.sleep(0.2)
            # An abrupt close (RST), as when the server process is killed.
            sock = handler.connection
            linger = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # on, 0 s: reset, no FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            sock.close()
            return
        if mode == "stall":
            out.write(self._event(words[0]))
            out.flush()
            self._closing.wait(60)
            return
        # dribble
        while not self._closing.is_set():
            try:
                out.write(self._event(" more"))
                out.flush()
            except OSError:
                return
            self._closing.wait(self.dribble_s)
