"""An article from a link: fetched with httpx under a guard against server-side request
forgery, then read by extract.py.

The guard, on every hop: http or https only, no credentials in the link; every address the
name resolves to is checked, and loopback, private, link-local (169.254.169.254 included),
multicast, reserved, unspecified, IPv6 unique-local and site-local, IPv4-mapped private
addresses, and 6to4, Teredo and NAT64 addresses (an IPv4 address inside) are refused
(`--allow-private-urls`, on the command line only, lets intranet addresses through); the
connection is made to the checked address itself (the name is sent as Host and as TLS SNI,
and the certificate is checked against it), so a second DNS answer cannot redirect it;
redirects are followed by hand, at most MAX_REDIRECTS, each hop checked again;
no cookies, no proxies from the environment; size capped, and the whole fetch (connect to
last byte) ends at the policy's timeout when run by bounded.read_link.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from ..errors import InputError
from .extract import Extracted, extract

MAX_REDIRECTS = 5
_TRANSLATED = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


@dataclass(frozen=True)
class FetchPolicy:
    timeout: float = 15.0  # seconds for the whole fetch, connect to last byte
    max_bytes: int = 10 * 2**20
    # The command line's --allow-private-urls (never a server's): an intranet page at a
    # private, loopback, site-local or unique-local address may be fetched. Link-local
    # (cloud metadata), multicast, reserved and unspecified addresses stay refused.
    allow_private: bool = False
    # Tests only: loopback addresses (127.0.0.0/8, ::1) allowed, for the project's own
    # loopback servers. Every other refused kind stays refused.
    allow_loopback: bool = False


PRIVATE_FIX = (
    " (an intranet page: on the command line, --allow-private-urls fetches it; a server never does)"
)


def refused(why: str, url: str) -> InputError:
    return InputError(f"The link {url} was refused: {why}.", "url_refused")


def check_address(ip: str, policy: FetchPolicy) -> None:
    """Raise (ValueError with the reason) for an address a fetch must never reach: anything
    not globally reachable, and IPv6 addresses that carry an IPv4 one inside."""
    address = ipaddress.ip_address(ip.split("%")[0])
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    v6 = isinstance(address, ipaddress.IPv6Address)
    never = (
        address.is_link_local or address.is_multicast or address.is_reserved
        or address.is_unspecified
    )  # fmt: skip
    inside = address.is_loopback or address.is_private or (v6 and address.is_site_local)
    if address.is_loopback and policy.allow_loopback:
        return
    if v6 and (address.sixtofour or address.teredo or address in _TRANSLATED):
        # 6to4, Teredo and NAT64 carry an IPv4 address inside, which may be a private one.
        raise ValueError(f"{ip} is an IPv6 address that tunnels or translates to IPv4")
    if inside and not never:
        if policy.allow_private:
            return
        kind = "loopback" if address.is_loopback else "private"
        raise ValueError(f"{ip} is a {kind} address{PRIVATE_FIX}")
    for kind, hit in (
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("unspecified", address.is_unspecified),
        ("site-local", v6 and address.is_site_local),
        ("not globally reachable", not address.is_global),
    ):
        if hit:
            raise ValueError(f"{ip} is a {kind} address")


def resolve(url: str, policy: FetchPolicy) -> tuple[str, str, int, str]:
    """(scheme, host name, port, checked address) for `url`, or InputError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise refused("only http and https links are fetched", url)
    if parts.username or parts.password:
        raise refused("links with a user name or password are not fetched", url)
    host = parts.hostname
    if not host:
        raise refused("it names no host", url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise refused("its port is not a number from 1 to 65535", url) from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(f"Cannot find the host of {url} ({exc}).", "fetch_failed") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for ip in addresses:  # every answer, not just the first: one bad one refuses the link
        try:
            check_address(ip, policy)
        except ValueError as exc:
            raise refused(str(exc), url) from None
    return parts.scheme, host, port, addresses[0]


def fetch(url: str, policy: FetchPolicy | None = None) -> Extracted:
    """The article at `url` (web page, PDF, Word file or text), or InputError:
    `url_refused`, `fetch_failed`, `too_large`, and extract.py's codes. In-process: the
    doors call bounded.read_link, which runs this under a budget."""
    data, name, final = download(url, policy)
    return extract(data, name=name, url=final)


def download(url: str, policy: FetchPolicy | None = None) -> tuple[bytes, str, str]:
    """The bytes at `url`, a file name to check them against ("" when the path has none) and
    the address they came from after redirects; InputError otherwise."""
    import httpx

    policy = policy or FetchPolicy()
    with httpx.Client(timeout=policy.timeout, trust_env=False, follow_redirects=False) as client:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            scheme, host, port, ip = resolve(current, policy)
            response, data = _get(client, current, scheme, host, port, ip, policy)
            if response.is_redirect and "location" in response.headers:
                current = urljoin(current, response.headers["location"])
                continue
            if response.status_code != 200:
                raise InputError(
                    f"{url} answered {response.status_code} {response.reason_phrase}.",
                    "fetch_failed",
                )
            name = urlsplit(current).path.rsplit("/", 1)[-1]
            return data, (name if "." in name else ""), current
    raise refused(f"more than {MAX_REDIRECTS} redirects", url)


def _get(client, url: str, scheme: str, host: str, port: int, ip: str, policy: FetchPolicy):
    """One GET to the checked address, read up to the size cap."""
    import httpx

    parts = urlsplit(url)
    literal = f"[{ip}]" if ":" in ip else ip
    target = urlunsplit((scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    default = (scheme, port) in (("http", 80), ("https", 443))
    headers = {"Host": host if default else f"{host}:{port}", "User-Agent": "khulasa"}
    try:
        with client.stream(
            "GET", target, headers=headers, extensions={"sni_hostname": host}
        ) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > policy.max_bytes:
                raise _too_large(url, policy)
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > policy.max_bytes:
                    raise _too_large(url, policy)
            return response, bytes(data)
    except httpx.HTTPError as exc:
        raise InputError(f"Could not fetch {url}: {exc}.", "fetch_failed") from None


def _too_large(url: str, policy: FetchPolicy) -> InputError:
    return InputError(
        f"{url} is over {policy.max_bytes // 2**20} MiB; it was not read.", "too_large"
    )
