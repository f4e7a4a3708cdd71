"""What may reach the chat page: Host and Origin checks in front of Gradio, and its credentials.

Gradio's own CORS middleware counts only `localhost`, `127.0.0.1` and `0.0.0.0` as local, so a
page bound to `[::1]` answers any web site's cross-origin calls, and nothing checks the Host
header (DNS rebinding). This ASGI middleware sits in front of the whole app, HTTP and WebSocket:

- Host must name this server: a loopback name when bound to loopback, else the bind address or
  one of `RAG_UI_ALLOWED_HOSTS` (any host when bound to all interfaces and none are listed;
  credentials then guard the page).
- Origin, when a browser sends one, must be the page's own origin (same host and port), so
  another web site cannot drive the API with the user's cookies.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
ANY_INTERFACE = frozenset({"0.0.0.0", "::", ""})
MIN_PASSWORD = 12


def is_loopback(host: str) -> bool:
    return host.strip("[]").lower() in LOOPBACK


def hostname(netloc: str) -> str | None:
    """`[::1]:7860` -> `::1`, `Example.org` -> `example.org`; None when it does not parse."""
    try:
        return urlsplit("//" + netloc).hostname
    except ValueError:
        return None


def allowed_hosts(bind: str, extra: Iterable[str] = ()) -> frozenset[str] | None:
    """Host names the page answers to; None means any (bound to every interface, none listed)."""
    extra = {h.strip().strip("[]").lower() for h in extra if h.strip()}
    bind = bind.strip("[]").lower()
    if bind in LOOPBACK:
        return LOOPBACK | extra
    if bind in ANY_INTERFACE and not extra:
        return None
    return frozenset({bind} | extra) - ANY_INTERFACE


def parse_auth(raw: str, required: bool) -> tuple[str, str] | None:
    """`user:password` -> (user, password); raises ValueError with the fix when it is weak."""
    if not raw:
        if required:
            raise ValueError(
                "Binding the page to a non-loopback address exposes it to the network: set "
                f"RAG_UI_AUTH=user:password (a password of at least {MIN_PASSWORD} characters), "
                "or bind to 127.0.0.1."
            )
        return None
    user, sep, password = raw.partition(":")
    if not sep or not user.strip():
        raise ValueError("RAG_UI_AUTH must be user:password.")
    if len(password) < MIN_PASSWORD or len(set(password)) < 4:
        raise ValueError(
            f"RAG_UI_AUTH: the password must have at least {MIN_PASSWORD} characters, not all alike."
        )
    return user, password


class HostOriginGuard:
    """ASGI middleware: refuse requests whose Host or Origin is not this page's own."""

    def __init__(self, app, hosts: frozenset[str] | None):
        self.app = app
        self.hosts = hosts

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        reason = check(headers.get("host", ""), headers.get("origin"), self.hosts)
        if reason is None:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            return await send({"type": "websocket.close", "code": 1008})
        body = reason.encode()
        await send({
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        })
        await send({"type": "http.response.body", "body": body})


def check(host: str, origin: str | None, hosts: frozenset[str] | None) -> str | None:
    """Why a request with these headers is refused, or None when it may pass."""
    name = hostname(host)
    if not host or name is None:
        return "Missing or malformed Host header."
    if hosts is not None and name not in hosts:
        return f"Host {name!r} is not served here; set RAG_UI_ALLOWED_HOSTS to add it."
    if origin is None:
        return None  # not a browser's cross-site request (curl, gradio_client, same-origin GET)
    parts = urlsplit(origin) if origin != "null" else None
    if parts is None or parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower():
        return "Cross-origin requests are not allowed."
    return None
