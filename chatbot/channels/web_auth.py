"""Sign-in for every web route: one ASGI middleware in front of the UI, the
API and the source files.

Each HTTP request and websocket is resolved to a ``Principal`` by
``chatbot.signin.SignIn`` before any route runs; a denied one gets 401/403
with a one-line JSON reason and an audit row, and never reaches a handler.
Only ``/health`` (no data) and ``/slack/events`` (Slack signs its requests;
Bolt verifies them) pass without. Handlers read the principal from
``request.state.principal``; Gradio handlers, which see a copy of the
request, resolve it again from the same headers (``gradio_principal``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from chatbot.access import Principal, Roles
from chatbot.signin import SignIn, SignInDenied

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Deny = Callable[[str, str, str], None]
"""Called with (path, claimed principal, reason) for every denied request."""

OPEN_PATHS = frozenset({"/health", "/slack/events"})


@dataclass(frozen=True, slots=True)
class WebAccess:
    """What the web side needs to decide who may do what."""

    signin: SignIn
    roles: Roles


def request_headers(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Lower-cased header names; a repeated header is kept ``\\x00``-joined,
    which ``resolve`` refuses for the identity headers only."""
    out: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        out[key] = f"{out[key]}\x00{text}" if key in out else text
    return out


class SignInMiddleware:
    def __init__(self, app: ASGIApp, signin: SignIn, deny: Deny) -> None:
        self.app = app
        self.signin = signin
        self.deny = deny

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = request_headers(list(scope.get("headers") or []))
        client = scope.get("client")
        peer = str(client[0]) if client else None
        try:
            principal = resolve(self.signin, peer, headers)
        except SignInDenied as denied:
            self.deny(str(scope.get("path", "")), denied.claimed, denied.reason)
            await _refuse(scope, send, denied)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


def resolve(signin: SignIn, peer: str | None, headers: Mapping[str, str]) -> Principal:
    """``SignIn.principal``, refusing a request that repeats an identity header
    (a client's own copy next to the proxy's)."""
    if any("\x00" in headers.get(name, "") for name in signin.identity_headers):
        raise SignInDenied("an identity header was sent more than once")
    return signin.principal(peer, headers)


def gradio_principal(signin: SignIn, request: Any) -> Principal:
    """The principal behind a Gradio event's ``gr.Request``; raises
    ``SignInDenied`` (the middleware has already let the page through, so
    this only fails if the request was altered in between)."""
    if request is None:
        raise SignInDenied("no request")
    raw = dict(getattr(request, "headers", {}) or {})
    headers = {str(k).lower(): str(v) for k, v in raw.items()}
    client = getattr(request, "client", None)
    peer = getattr(client, "host", None) if client is not None else None
    return resolve(signin, str(peer) if peer else None, headers)


async def _refuse(scope: Scope, send: Send, denied: SignInDenied) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    body = json.dumps({"error": "sign_in", "message": f"Access denied: {denied.reason}."}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": denied.status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
