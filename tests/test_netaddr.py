"""Host, host:port and URL shapes of the SUT profile (drimva.netaddr): checked, never resolved."""

from __future__ import annotations

import pytest

from drimva.netaddr import AddressError, check_host, check_host_port, check_http_url, hosts_overlap, split_host_port


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::1", "fe80::1%eth0", "localhost", "db-3.test.example.fr", "db.example.fr.", "a" * 63 + ".fr"])
def test_hosts_taken(host: str) -> None:
    assert check_host(host) == host


@pytest.mark.parametrize(
    "host", ["", "999.1.1.1", "1.2.3", "127.0.0.01", "db..example.fr", "-db.example.fr", "db-.example.fr", "db_1.example.fr", "a" * 64 + ".fr", "é.fr", "[::1]", "h:80"]
)
def test_hosts_refused(host: str) -> None:
    with pytest.raises(AddressError, match="^not an IP address or host name$"):
        check_host(host)


@pytest.mark.parametrize(
    ("text", "split"),
    [("vi.example.fr", ("vi.example.fr", None)), ("vi:8443", ("vi", 8443)), ("[::1]:443", ("::1", 443)), ("[::1]", ("::1", None)), ("::1", ("::1", None))],
)
def test_host_and_port_split(text: str, split: tuple[str, int | None]) -> None:
    assert split_host_port(text) == split and check_host_port(text) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("vi:0", "the port '0' is not a number from 1 to 65535"),
        ("vi:65536", "the port '65536' is not"),
        ("vi:", "the port '' is not"),
        ("vi:https", "the port 'https' is not"),
        ("999.1.1.1:80", "the host '999.1.1.1' is not an IP address or host name"),
        ("[vi]:80", "brackets hold an IPv6 address"),
        ("[::1]80", "expected \\[IPv6\\]:port"),
        ("::g", "the host '::g' is not"),
    ],
)
def test_host_and_port_refused(text: str, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        check_host_port(text)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "not an absolute http\\(s\\) URL"),
        ("db.example.fr/wado", "not an absolute"),
        ("ftp://db.example.fr/", "not an absolute"),
        ("https:///wado", "not an absolute"),
        ("https://user@/wado", "the URL has no host"),
        ("https://:8443/wado", "the host '' is not"),
        ("https://999.1.1.1/wado", "the host '999.1.1.1' is not"),
        ("https://db.example.fr:99999/wado", "the port '99999' is not"),
        ("https://db.example.fr/a b", "no spaces"),
    ],
)
def test_urls_refused(url: str, message: str) -> None:
    with pytest.raises(AddressError, match=message):
        check_http_url(url)


def test_urls_taken() -> None:
    for url in ("https://db.example.fr/wado-rs", "http://127.0.0.1:8449/s?x=1#f", "HTTPS://[::1]:8443/", "https://u:p@db.example.fr:1/"):
        assert check_http_url(url) == url


def test_hosts_overlap_on_the_same_address_or_a_wildcard() -> None:
    assert hosts_overlap("127.0.0.1", "127.0.0.1") and hosts_overlap("Harness.Local", "harness.local")
    assert hosts_overlap("0.0.0.0", "127.0.0.2") and hosts_overlap("127.0.0.3", "::")
    assert not hosts_overlap("127.0.0.1", "127.0.0.2")
