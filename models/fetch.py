"""An article from a link: fetched with httpx under a guard against server-side request
forgery, then read by extract.py.

The guard, on every hop: http or https only, no credentials in the link; every address the
name resolves to is checked, and loopback, private, link-local (169.254.169.254 included),
multicast, reserved, unspecified, IPv6 unique-local and IPv4-mapped private addresses are
refused; the connection is made to the checked address itself (the name is sent as Host and
as TLS SNI, and the certificate is checked against it), so a second DNS answer cannot
redirect it; redirects are followed by hand, at most MAX_REDIRECTS, each hop checked again;
no cookies, no proxies from the environment; time and size capped.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from .errors import InputError
from .extract import Extracted, extract

MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchPolicy:
    timeout: float = 15.0  # seconds for the whole fetch
    max_bytes: int = 10 * 2**20
    # Tests only: loopback addresses (127.0.0.0/8, ::1) allowed, for the project's own
    # loopback servers. Every other refused kind stays refused.
    allow_loopback: bool = False


def refused(why: str, url: str) -> InputError:
    return InputError(f"The link {url} was refused: {why}.", "url_refused")


def check_address(ip: str, policy: FetchPolicy) -> None:
    """Raise (ValueError with the reason) for an address a fetch must never reach."""
    address = ipaddress.ip_address(ip.split("%")[0])
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address.is_loopback:
        if policy.allow_loopback:
            return
        raise ValueError(f"{ip} is a loopback address")
    for kind, hit in (
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("unspecified", address.is_unspecified),
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
    `url_refused`, `fetch_failed`, `too_large`, and extract.py's codes."""
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
            return extract(data, name=name if "." in name else "", url=current)
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


def is_link(text: str) -> bool:
    """Whether `text` is a link (what `khulasa translate` tells from a file name)."""
    return text.strip().lower().startswith(("http://", "https://"))
