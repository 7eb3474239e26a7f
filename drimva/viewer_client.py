"""The harness's "browser" for the viewer scenarios (VA-C1, VA-C2).

An httpx client with a cookie jar: ``open(url)`` GETs a URL (the viewer link of
a CR) and follows redirects by hand, so every hop is written to the evidence
(channel ``viewer``) and kept in the redirect chain; ``login_as(navigation,
user_key)`` submits the identity provider's login form (the page the
simulators of ``simulators.idp`` serve: a ``<form>`` with a hidden
``auth_request`` and a ``user`` choice, no JavaScript) as one test user and
follows the redirects back to the relying party.

A page is the login page of an identity provider when it holds a form with a
``user`` field; its issuer (``Navigation.login_page_seen``) is the
``<meta name="oidc-issuer">`` content, kept only when the page itself was
served under that issuer's origin. Redirects are capped (``max_redirects``)
and every request has a timeout. HTML is parsed with lxml, without network
access or entity resolution.
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence
from urllib.parse import urljoin, urlsplit

import httpx
from lxml import etree, html

from drimva.evidence import EvidenceSink, seqs_of
from drimva.sut_calls import send_bounded
from drimva.waiting import blocking
from simulators.common.https import decoded_view

CHANNEL = "viewer"
ISSUER_META = "oidc-issuer"
USER_FIELD = "user"
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
DEFAULT_MAX_REDIRECTS = 15


class ViewerError(Exception):
    """The navigation could not go on (transport error, too many redirects, no login form, unknown user)."""


@dataclass(frozen=True)
class Hop:
    """One request of a navigation and the status it got (``location`` for redirects)."""

    method: str
    url: str
    status: int
    location: str | None = None


@dataclass(frozen=True)
class LoginForm:
    """The identity provider's login form as found in a page."""

    action: str  # absolute URL
    method: str
    fields: tuple[tuple[str, str], ...]  # hidden and preset fields, in document order (``user`` excluded)
    users: tuple[str, ...]  # the ``user`` values offered
    submit: tuple[str, str] | None = None  # the login button (name, value), when it has one


@dataclass(frozen=True)
class Navigation:
    """Where a navigation ended: the final page, every hop, and the IdP login page if one was reached."""

    final_url: str
    status: int
    text: str  # the final page as received (HTTP client) or as rendered (browser)
    chain: tuple[Hop, ...]
    login_page_seen: str | None = None  # issuer of the IdP login page the navigation stopped at
    login_form: LoginForm | None = field(default=None, repr=False)
    exchanges: tuple[int, ...] = ()  # sequence numbers of the recorded final page (its request and response)

    def visited(self, prefix: str) -> bool:
        """Whether any hop went to a URL starting with ``prefix`` (e.g. an issuer)."""
        return any(hop.url.startswith(prefix) for hop in self.chain)


class ViewerClient:
    """``with ViewerClient(evidence, ca_cert) as browser: nav = browser.open(url); nav = browser.login_as(nav, key)``

    ``ca_cert`` is one or more PEM CA files added to the system trust store
    (the run's test CA; a real SUT's CA). Cookies persist for the client's
    life: a fresh ``ViewerClient`` is an unauthenticated browser.
    """

    def __init__(
        self,
        evidence: EvidenceSink,
        ca_cert: Path | Sequence[Path] | None,
        timeout: float = 10.0,
        *,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        user_agent: str = "drimva-viewer-client",
    ) -> None:
        self.evidence = evidence
        self.timeout = timeout
        self.max_redirects = max_redirects
        cas = [ca_cert] if isinstance(ca_cert, (str, Path)) else list(ca_cert or [])
        self._client = httpx.Client(
            verify=trust_context(cas), timeout=timeout, follow_redirects=False, headers={"User-Agent": user_agent}
        )
        self._count = 0
        self._last: tuple[int, ...] = ()  # the recorded request and response of the latest exchange

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "ViewerClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._client.cookies

    # -- navigation ----------------------------------------------------------------------
    def open(self, url: str) -> Navigation:
        """GET ``url`` and follow the redirects; stops at the final page (maybe an IdP login page)."""
        return self._navigate("GET", url, None, ())

    def login_as(self, navigation: Navigation, user_key: str, *, cancel: bool = False) -> Navigation:
        """Submit the login page ``navigation`` stopped at as ``user_key`` and follow the redirects back.

        ``cancel=True`` presses the cancel button instead (the IdP answers ``access_denied``).
        """
        form = navigation.login_form
        if form is None:
            raise ViewerError(f"no identity-provider login form at {navigation.final_url} (HTTP {navigation.status})")
        if not cancel and user_key not in form.users:
            raise ViewerError(f"user {user_key!r} is not offered by the login page (offered: {', '.join(form.users)})")
        data = list(form.fields) + [(USER_FIELD, user_key)]
        if cancel:
            data.append(("action", "cancel"))
        elif form.submit:
            data.append(form.submit)
        return self._navigate(form.method, form.action, data, navigation.chain)

    def _navigate(
        self, method: str, url: str, data: list[tuple[str, str]] | None, before: tuple[Hop, ...]
    ) -> Navigation:
        chain = list(before)
        for _ in range(self.max_redirects + 1):  # each request has its own timeout: the whole is bounded
            response = self._exchange(method, url, data)
            location = response.headers.get("Location")
            if response.status_code in REDIRECT_STATUSES and location:
                target = urljoin(str(response.url), location)
                chain.append(Hop(method, url, response.status_code, target))
                if response.status_code in (301, 302, 303) and method != "HEAD":
                    method, data = "GET", None
                url = target
                continue
            chain.append(Hop(method, url, response.status_code))
            page_url = str(response.url)
            form, issuer = login_form_of(response.status_code, response.headers.get("Content-Type", ""), response.content, page_url)
            return Navigation(page_url, response.status_code, response.text, tuple(chain), issuer, form, self._last)
        raise ViewerError(f"more than {self.max_redirects} redirects (last: {url})")

    def _exchange(self, method: str, url: str, data: list[tuple[str, str]] | None) -> httpx.Response:
        self._count += 1
        index = self._count
        if data is not None:
            request = self._client.build_request(method, url, data=dict(_ordered(data)))
        else:
            request = self._client.build_request(method, url)
        start_line = f"{method} {url} HTTP/1.1"
        sent = list(request.headers.multi_items())
        body = request.read()
        recorded = self.evidence.record(
            CHANNEL, f"request-{index}", _raw(start_line, sent, body), decoded_view(start_line, sent, body),
            {"url": url, "method": method}, "http",
        )
        started = time.monotonic()
        try:
            with blocking(f"la réponse de la visionneuse ({method} {url})", self.timeout):
                response = send_bounded(self._client, request, self.timeout)  # the whole answer, however slowly it comes
        except httpx.HTTPError as exc:
            error = f"no HTTP answer from {url}: {type(exc).__name__}: {exc}"
            self.evidence.record(CHANNEL, f"error-{index}", error.encode("utf-8"), error, {"url": url}, "txt")
            raise ViewerError(error) from exc
        status_line = f"{response.http_version} {response.status_code} {response.reason_phrase}"
        received = list(response.headers.multi_items())
        answered = self.evidence.record(
            CHANNEL, f"response-{index}-{response.status_code}", _raw(status_line, received, response.content),
            decoded_view(status_line, received, response.content),
            {"url": url, "status": response.status_code, "seconds": round(time.monotonic() - started, 3)}, "http",
        )
        self._last = seqs_of(recorded, answered)
        return response


def trust_context(ca_files: Sequence[Path]) -> ssl.SSLContext:
    """What a browser of the run trusts: the system CAs and ``ca_files`` (the run's test CA, a real SUT's CA)."""
    context = ssl.create_default_context()
    for ca in ca_files:
        context.load_verify_locations(cafile=str(ca))
    return context


def _ordered(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Later values of a repeated name win (a form field overridden by the submitted choice)."""
    merged: dict[str, str] = {}
    for name, value in pairs:
        merged[name] = value
    return list(merged.items())


def login_form_of(status: int, content_type: str, content: bytes, page_url: str) -> tuple[LoginForm | None, str | None]:
    """The IdP login form of an HTML page and the issuer it declares (None, None for any other page)."""
    if status != 200 or "html" not in content_type.lower():
        return None, None
    try:
        parser = html.HTMLParser(no_network=True, remove_comments=True)
        document = html.document_fromstring(content, parser=parser)
    except (etree.ParserError, ValueError):
        return None, None
    for form in document.iter("form"):
        users = [i.get("value", "") for i in form.iter("input") if i.get("name") == USER_FIELD]
        users += [o.get("value", o.text_content()) for s in form.iter("select") if s.get("name") == USER_FIELD for o in s.iter("option")]
        if not users:
            continue
        fields = tuple(
            (i.get("name", ""), i.get("value", ""))
            for i in form.iter("input")
            if i.get("name") and i.get("name") != USER_FIELD and (i.get("type") or "text").lower() in ("hidden", "text")
        )
        submit = next(
            ((b.get("name", ""), b.get("value", "")) for b in form.iter("button") if b.get("name") and b.get("value") != "cancel"),
            None,
        )
        action = urljoin(page_url, form.get("action") or page_url)
        login = LoginForm(action, (form.get("method") or "GET").upper(), fields, tuple(users), submit)
        return login, _declared_issuer(document, page_url)
    return None, None


def _declared_issuer(document: html.HtmlElement, page_url: str) -> str | None:
    """The ``oidc-issuer`` meta of the page, kept only if the page was served from that issuer's origin."""
    for meta in document.iter("meta"):
        if meta.get("name") == ISSUER_META and meta.get("content"):
            issuer = meta.get("content", "")
            page, declared = urlsplit(page_url), urlsplit(issuer)
            if (page.scheme, page.netloc) == (declared.scheme, declared.netloc):
                return issuer
    return None


def _raw(start_line: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = start_line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode("latin-1", "replace") + b"\r\n" + body


__all__ = ["CHANNEL", "Hop", "LoginForm", "Navigation", "ViewerClient", "ViewerError", "login_form_of", "trust_context"]
