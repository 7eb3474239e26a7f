"""Hosts, ``host:port`` pairs and http(s) URLs as the SUT profile takes them: checked for shape, never resolved.

A host is an IP literal (IPv4 dotted quad or IPv6) or a DNS host name of
RFC 1123 labels: letters, digits and hyphens, 1 to 63 characters, neither
starting nor ending with a hyphen, 253 characters in all, an optional final
dot. A name whose last label is all digits is refused (RFC 3696 §2: a
top-level domain is not numeric), so that ``999.1.1.1`` is an error at load
instead of a failed name lookup in the middle of a run. Nothing here touches
the network: whether a name resolves is seen when a socket is bound or
connected.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::"})  # a socket bound there listens on every address of the machine


class AddressError(ValueError):
    """Not a well-formed host, port or URL; the message says what is wrong (without repeating the value)."""


def is_ip_literal(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_host_name(text: str) -> bool:
    """``text`` is a syntactically valid DNS host name (not an IP literal)."""
    name = text[:-1] if text.endswith(".") else text
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    return all(_LABEL.fullmatch(label) for label in labels) and not labels[-1].isdigit()


def check_host(text: str) -> str:
    """``text`` when it is an IP literal or a DNS host name; else :class:`AddressError`."""
    if is_ip_literal(text) or is_host_name(text):
        return text
    raise AddressError("not an IP address or host name")


def check_port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise AddressError(f"the port {text!r} is not a number from 1 to 65535")
    return int(text)


def split_host_port(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[IPv6]``, ``[IPv6]:port`` or a bare IPv6 literal, as (host, port or None)."""
    if text.startswith("["):
        host, closed, rest = text[1:].partition("]")
        if not closed or ":" not in host or not is_ip_literal(host):
            raise AddressError("brackets hold an IPv6 address: [IPv6] or [IPv6]:port")
        if not rest:
            return host, None
        if not rest.startswith(":"):
            raise AddressError("expected [IPv6]:port")
        return host, check_port(rest[1:])
    if text.count(":") > 1:  # an IPv6 literal, without a port
        host, colon, digits = text, "", ""
    else:
        host, colon, digits = text.partition(":")
    try:
        check_host(host)
    except AddressError as error:
        raise AddressError(f"the host {host!r} is {error}") from None
    return host, check_port(digits) if colon else None


def check_host_port(text: str) -> str:
    """``text`` when :func:`split_host_port` takes it; else :class:`AddressError`."""
    if ":" not in text and not text.startswith("["):
        return check_host(text)  # the bare message: the value is the host
    split_host_port(text)
    return text


def check_http_url(text: str) -> str:
    """``text`` when it is an absolute http(s) URL with a valid host (and port, if given); else :class:`AddressError`."""
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise AddressError("not an absolute http(s) URL (https://host[:port]/path)")
    if any(character.isspace() for character in text):
        raise AddressError("a URL has no spaces (write them %20)")
    host_port = parts.netloc.rpartition("@")[2]  # after any user information
    if not host_port:
        raise AddressError("the URL has no host")
    split_host_port(host_port)
    return text


def hosts_overlap(first: str, second: str) -> bool:
    """Sockets bound to these two hosts compete for the same ports (the same host, or either one a wildcard)."""
    return first.lower() == second.lower() or first in WILDCARD_HOSTS or second in WILDCARD_HOSTS
