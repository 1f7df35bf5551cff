"""Fetching by URL for hashing refuses the server's own network (SSRF), before and after a
redirect, and caps what it reads; a local HTTP server stands in for the internet, with the
address check told to let through 127.0.0.1 only where a test says so."""

from __future__ import annotations

import http.server
import ipaddress
import threading
from collections.abc import Iterator

import pytest

from kaitiaki.signals.remote import RemoteFetchError, fetch, is_public

BODY = b"x" * 5000


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.path.split("to=", 1)[1])
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def loopback_only(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return str(address) == "127.0.0.1"


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.1",
        "172.16.0.1",
        "169.254.169.254",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
        "100.64.0.1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    with pytest.raises(RemoteFetchError, match="unsafe") as refused:
        fetch("http://example.test/a.jpg", resolver=lambda host, port: [address])
    assert refused.value.status == 400


def test_public_addresses_pass_the_check() -> None:
    assert is_public(ipaddress.ip_address("93.184.216.34"))
    assert is_public(ipaddress.ip_address("2606:2800:220:1::1"))


def test_a_host_resolving_to_any_private_address_is_refused() -> None:
    with pytest.raises(RemoteFetchError, match="unsafe"):
        fetch("http://x.test/", resolver=lambda host, port: ["93.184.216.34", "10.0.0.1"])


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://x.test/a", "gopher://x", "http://"])
def test_only_http_urls_with_a_host(url: str) -> None:
    with pytest.raises(RemoteFetchError, match="http"):
        fetch(url)


def test_loopback_is_refused_by_default(server: str) -> None:
    with pytest.raises(RemoteFetchError, match="unsafe"):
        fetch(f"{server}/a.jpg")


def test_fetch_size_cap_and_redirects(server: str) -> None:
    assert fetch(f"{server}/a.jpg", allowed=loopback_only) == BODY
    with pytest.raises(RemoteFetchError, match="too large") as big:
        fetch(f"{server}/a.jpg", allowed=loopback_only, limit=100)
    assert big.value.status == 413
    # A redirect to an allowed address is followed; one into the private network is not.
    assert fetch(f"{server}/redirect?to={server}/b.jpg", allowed=loopback_only) == BODY
    metadata = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(RemoteFetchError, match="unsafe"):
        fetch(f"{server}/redirect?to={metadata}", allowed=loopback_only)
    # A redirect loop ends.
    loop = f"{server}/redirect?to=/redirect?to=/redirect?to=/redirect?to=/redirect?to=/a"
    with pytest.raises(RemoteFetchError, match="redirects"):
        fetch(loop, allowed=loopback_only)
