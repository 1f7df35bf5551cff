"""Fetching a file by URL to hash it, without becoming a proxy into the server's own network.

A URL a client sends could name the cloud's metadata service, the database, or anything else
only the server can reach (server-side request forgery). So: http and https only; the host is
resolved here and every address it resolves to must be public (no private, loopback,
link-local, multicast, reserved or unspecified address); the connection goes to the address
that was checked, so a second DNS answer cannot swap in another (DNS rebinding); a redirect is
followed only after its target passes the same checks; and the body is capped in size and the
whole fetch in time.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

MAX_REMOTE_BYTES = 64 * 1024**2
TIMEOUT_SECONDS = 10.0
MAX_REDIRECTS = 3
_CHUNK = 64 * 1024

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class RemoteFetchError(ValueError):
    """A URL refused or a fetch failed; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def is_public(address: Address) -> bool:
    """Whether ``address`` is on the public internet (what a URL fetch may reach)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)
    return address.is_global and not (address.is_multicast or address.is_reserved)


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _pinned(
    scheme: str, host: str, address: str, port: int, timeout: float
) -> http.client.HTTPConnection:
    """A connection to the checked ``address`` that still presents ``host`` (Host, TLS SNI)."""
    if scheme == "http":
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
        return conn
    context = ssl.create_default_context()

    class _Pinned(http.client.HTTPSConnection):
        def connect(self) -> None:
            raw = socket.create_connection((address, port), timeout)
            self.sock = context.wrap_socket(raw, server_hostname=host)

    return _Pinned(host, port, timeout=timeout, context=context)


def fetch(
    url: str,
    *,
    limit: int = MAX_REMOTE_BYTES,
    timeout: float = TIMEOUT_SECONDS,
    resolver: Resolver = resolve,
    allowed: Callable[[Address], bool] = is_public,
) -> bytes:
    """The body at ``url`` (status 200), or RemoteFetchError saying why not."""
    deadline = time.monotonic() + timeout
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteFetchError(400, "Invalid or unsafe URL provided: http(s) URLs only")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = [
                ipaddress.ip_address(a.split("%")[0]) for a in resolver(parts.hostname, port)
            ]
        except (OSError, ValueError) as exc:
            raise RemoteFetchError(
                400, f"Failed to fetch URL: cannot resolve host ({exc})"
            ) from None
        if not addresses or not all(allowed(a) for a in addresses):
            raise RemoteFetchError(400, "Invalid or unsafe URL provided: not a public address")
        left = deadline - time.monotonic()
        if left <= 0:
            raise RemoteFetchError(400, "Failed to fetch URL: timed out")
        conn = _pinned(parts.scheme, parts.hostname, str(addresses[0]), port, left)
        try:
            path = parts.path or "/"
            conn.request(
                "GET",
                f"{path}?{parts.query}" if parts.query else path,
                headers={"Host": parts.netloc.rpartition("@")[2], "User-Agent": "kaitiaki"},
            )
            response = conn.getresponse()
            location = response.getheader("Location")
            if response.status in (301, 302, 303, 307, 308) and location:
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise RemoteFetchError(400, f"Failed to fetch URL: HTTP {response.status}")
            declared = response.getheader("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise RemoteFetchError(413, "Content too large")
            return _read(response, limit, deadline)
        except (OSError, http.client.HTTPException) as exc:
            raise RemoteFetchError(400, f"Failed to fetch URL: {exc}") from None
        finally:
            conn.close()
    raise RemoteFetchError(400, f"Failed to fetch URL: more than {MAX_REDIRECTS} redirects")


def _read(response: http.client.HTTPResponse, limit: int, deadline: float) -> bytes:
    body = bytearray()
    while chunk := response.read(_CHUNK):
        body += chunk
        if len(body) > limit:
            raise RemoteFetchError(413, "Content too large")
        if time.monotonic() > deadline:
            raise RemoteFetchError(400, "Failed to fetch URL: timed out")
    return bytes(body)
