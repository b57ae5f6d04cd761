"""Who is asking on the web side (UI, JSON API, source files, audit export).

Three ways in, tried in this order for every request:

1. **Bearer token** (``Authorization: Bearer …``), for API clients: the
   token's sha256 is looked up in the tokens file (``AuthSettings.tokens_file``),
   which maps it to a principal and groups; the token itself is never stored.
   An unknown token is denied, whatever else the request carries.
2. **Single sign-on headers** set by the bank's reverse proxy (oauth2-proxy
   and the like: ``X-Forwarded-User``, ``X-Forwarded-Groups``), accepted only
   when the TCP peer is one of ``AuthSettings.trusted_proxies``. The same
   headers from any other address are denied: anyone can type a header.
3. **Local mode**: with no proxies and no tokens configured, the app is a
   single-user tool; the only principal is ``local``, and only requests from
   the loopback interface are served (and the entry points refuse to bind
   another interface, see ``require_safe_bind``).

Everything else is denied with a reason (``SignInDenied``), which the web
app turns into 401/403 and an audit row. The peer address is the socket's,
never ``X-Forwarded-For``: uvicorn runs with proxy headers off.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from chatbot.access import Principal, valid_group
from chatbot.errors import ConfigurationError
from chatbot.settings import AuthSettings
from chatbot.tomlfile import read_toml

LOCAL_ID = "local"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class SignInDenied(Exception):
    """A request that may not be served; ``status`` is the HTTP code to send."""

    def __init__(self, reason: str, status: int = 403, claimed: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.claimed = claimed


@dataclass(frozen=True, slots=True)
class TokenEntry:
    digest: str  # sha256 hex of the token
    principal: str
    groups: tuple[str, ...]


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random bearer token (URL-safe, 256 bits)."""
    return "bdy_" + secrets.token_urlsafe(32)


def load_tokens(path: Path) -> tuple[TokenEntry, ...]:
    """Parse the tokens file::

    [[tokens]]
    sha256 = "9f86d0…"          # chatbot-access token prints it
    principal = "risk-dashboard"
    groups = ["credit-risk"]
    """
    _, data = read_toml(
        path,
        fix="create entries with `chatbot-access token`, or unset CHATBOT_AUTH__TOKENS_FILE",
    )
    entries = data.get("tokens", [])
    if set(data) - {"tokens"} or not isinstance(entries, list):
        raise ConfigurationError(f"{path}: the file holds only [[tokens]] tables")
    out: list[TokenEntry] = []
    for number, entry in enumerate(entries, start=1):
        where = f"{path}, token {number}"
        if not isinstance(entry, dict) or set(entry) - {"sha256", "principal", "groups"}:
            raise ConfigurationError(f"{where}: keys are sha256, principal and groups")
        digest = str(entry.get("sha256", "")).lower()
        principal = str(entry.get("principal", "")).strip()
        groups = entry.get("groups", [])
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ConfigurationError(f"{where}: sha256 must be 64 hex digits")
        if not principal:
            raise ConfigurationError(f"{where}: principal must name who the token is for")
        if not isinstance(groups, list) or not all(
            isinstance(g, str) and valid_group(g) for g in groups
        ):
            raise ConfigurationError(f"{where}: groups must be a list of group names")
        out.append(TokenEntry(digest, principal, tuple(sorted(set(groups)))))
    return tuple(out)


class SignIn:
    """Turns a request's peer address and headers into a ``Principal``."""

    def __init__(
        self,
        settings: AuthSettings,
        *,
        local_groups: Iterable[str] = (),
        tokens: tuple[TokenEntry, ...] | None = None,
    ) -> None:
        self._settings = settings
        try:
            self._proxies = tuple(
                ipaddress.ip_network(p.strip(), strict=False) for p in settings.trusted_proxies
            )
        except ValueError as exc:
            raise ConfigurationError(
                f"CHATBOT_AUTH__TRUSTED_PROXIES: {exc}; give addresses or CIDR ranges"
            ) from exc
        if tokens is None and settings.tokens_file is not None:
            tokens = load_tokens(settings.tokens_file)
        self._tokens = {t.digest: t for t in tokens or ()}
        self._local = Principal.of(LOCAL_ID, local_groups, "local")

    @property
    def mode(self) -> Literal["local", "sso"]:
        return "sso" if self._proxies or self._tokens else "local"

    @property
    def identity_headers(self) -> frozenset[str]:
        """The (lower-case) headers that say who is asking."""
        cfg = self._settings
        return frozenset({cfg.user_header.lower(), cfg.groups_header.lower(), "authorization"})

    @property
    def local_principal(self) -> Principal:
        return self._local

    def principal(self, peer: str | None, headers: Mapping[str, str]) -> Principal:
        """Who sent a request from ``peer`` with ``headers`` (case-insensitive
        mapping); raises ``SignInDenied`` when it may not be served."""
        cfg = self._settings
        user = headers.get(cfg.user_header.lower(), "").strip()
        has_identity = bool(user) or headers.get(cfg.groups_header.lower()) is not None
        trusted = self._trusted(peer)
        authorization = headers.get("authorization", "")
        # A proxy that signed the user in may forward its own Authorization
        # header too (oauth2-proxy --pass-authorization-header): its identity
        # headers win. Anywhere else a bearer token is the API client's.
        if authorization and not (trusted and has_identity):
            return self._bearer(authorization)
        if has_identity:
            if not trusted:
                raise SignInDenied(
                    f"identity headers from untrusted address {peer or 'unknown'}",
                    claimed=user,
                )
            if not user:
                raise SignInDenied(f"the proxy sent no {cfg.user_header}", status=401)
            return Principal.of(user, self._groups(headers), "proxy")
        if self.mode == "local":
            if peer in _LOOPBACK_HOSTS:
                return self._local
            raise SignInDenied(
                f"local mode serves 127.0.0.1 only; request from {peer or 'unknown'}"
            )
        if trusted:
            raise SignInDenied("the sign-on proxy sent no identity", status=401)
        raise SignInDenied("not signed in: use the bank's sign-on address", status=401)

    def _bearer(self, authorization: str) -> Principal:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise SignInDenied("malformed Authorization header", status=401)
        digest = hash_token(token.strip())
        for known, entry in self._tokens.items():
            if hmac.compare_digest(known, digest):
                return Principal.of(f"token:{entry.principal}", entry.groups, "token")
        raise SignInDenied("unknown bearer token", status=401)

    def _groups(self, headers: Mapping[str, str]) -> list[str]:
        cfg = self._settings
        raw = headers.get(cfg.groups_header.lower(), "")
        # A name that is not a group name is dropped, not trusted: it cannot
        # match a label, and it must not smuggle a separator through.
        return [g.strip() for g in raw.split(cfg.groups_separator) if valid_group(g.strip())]

    def _trusted(self, peer: str | None) -> bool:
        if not peer or not self._proxies:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._proxies)


def require_safe_bind(signin: SignIn, host: str) -> None:
    """Refuse to listen beyond loopback while nobody can sign in."""
    if signin.mode == "local" and host not in _LOOPBACK_HOSTS:
        raise ConfigurationError(
            f"refusing to listen on {host}: no identity is configured, so the app is "
            "single-user and serves 127.0.0.1 only. Put it behind the bank's sign-on proxy "
            "(CHATBOT_AUTH__TRUSTED_PROXIES) or give API tokens (CHATBOT_AUTH__TOKENS_FILE), "
            "or bind 127.0.0.1"
        )
