"""Headless Chromium as the harness's browser for the viewer scenarios (VA-C1, VA-C2).

``ViewerClient`` is an HTTP client that follows redirects and posts the login
form without JavaScript. A real viewer may need a real browser, so the
profile can choose this one instead (``harness.browser.kind = "chromium"``):
the same contract (``open``, ``login_as``, a :class:`Navigation` back),
carried out by Debian's ``chromium`` driven with Playwright. The login form
is filled in and its button clicked; redirects, cookies and any JavaScript
are the browser's own.

- **One browser, fresh profiles.** :class:`Chromium` starts one headless
  Chromium (``--headless --no-sandbox --disable-background-networking``);
  each :meth:`Chromium.client` is a new incognito context, that is, a browser
  without a session.
- **TLS.** Chromium does not read the run's CA file. Before it starts, every
  origin the scenarios will visit (the viewer and the identity providers) is
  checked with Python's ``ssl`` against the same CAs as ``ViewerClient``,
  host name included, and the SHA-256 of the public key of exactly those
  verified certificates goes into ``--ignore-certificate-errors-spki-list``.
  Any other certificate (an unexpected host, a key the CA did not certify)
  stops the navigation with Chromium's certificate error.
- **Evidence.** Every request and response of the page (line and headers,
  request body) and each page as rendered at the end of a navigation are
  written to the evidence (channel ``viewer``) as they happen.
- **Time limits.** Starting, each navigation and each click have the
  client's timeout; after the page has loaded, the client waits at most
  ``settle_s`` for the network to go quiet, so that a page that goes on by
  script is followed too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import ssl
import threading
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urljoin, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from drimva.evidence import EvidenceSink, seqs_of
from drimva.viewer_client import CHANNEL, USER_FIELD, Hop, Navigation, ViewerError, login_form_of, trust_context

DEFAULT_EXECUTABLE = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
)
DEFAULT_SETTLE_S = 0.6


class BrowserUnavailable(RuntimeError):
    """Chromium or Playwright is not installed; the message says which and how to get it."""


def unavailable_reason(executable: str = DEFAULT_EXECUTABLE) -> str | None:
    """Why a headless Chromium cannot be driven here, or None when it can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed (pip install -e '.[dev]' installs it)"
    found = shutil.which(executable) if not Path(executable).is_absolute() else executable
    if not found or not Path(found).exists():
        return f"no Chromium at {executable} (Debian: apt-get install chromium)"
    return None


def spki_sha256(der_certificate: bytes) -> str:
    """Base64 SHA-256 of a certificate's SubjectPublicKeyInfo: the form ``--ignore-certificate-errors-spki-list`` takes."""
    public_key = x509.load_der_x509_certificate(der_certificate).public_key()
    return base64.b64encode(hashlib.sha256(public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)).digest()).decode()


def verified_spki(origin: str, ca_files: Sequence[Path], timeout: float) -> str:
    """The SPKI hash of the certificate ``origin`` presents, once it is verified against ``ca_files`` (and the system CAs).

    Raises ``ViewerError`` naming the origin when the server cannot be reached
    or its certificate does not verify for that host.
    """
    parts = urlsplit(origin)
    if parts.scheme != "https" or not parts.hostname:
        raise ViewerError(f"{origin}: not an https origin")
    host, port = parts.hostname, parts.port or 443
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw, trust_context(ca_files).wrap_socket(raw, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError) as exc:
        raise ViewerError(f"{origin}: certificate not verified against the run's CA ({type(exc).__name__}: {exc})") from exc
    if der is None:
        raise ViewerError(f"{origin}: the server presented no certificate")
    return spki_sha256(der)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Chromium:
    """``with Chromium(ca_files, origins, timeout) as chromium: client = chromium.client(evidence)``.

    Playwright's synchronous API: use it from the thread that created it.
    """

    def __init__(
        self,
        ca_files: Sequence[Path],
        origins: Sequence[str],
        timeout: float = 10.0,
        *,
        executable: str = DEFAULT_EXECUTABLE,
        settle_s: float = DEFAULT_SETTLE_S,
    ) -> None:
        reason = unavailable_reason(executable)
        if reason:
            raise BrowserUnavailable(reason)
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        self.timeout = timeout
        self.settle_s = settle_s
        unique = list(dict.fromkeys(origin_of(o) for o in origins))
        self.trusted = {origin: verified_spki(origin, ca_files, timeout) for origin in unique}
        args = [*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={','.join(sorted(set(self.trusted.values())))}"]
        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(
                executable_path=executable, args=args, timeout=timeout * 1000, chromium_sandbox=False
            )
        except PlaywrightError as exc:
            self._playwright.stop()
            raise BrowserUnavailable(f"Chromium at {executable} did not start: {exc.message.splitlines()[0]}") from exc
        self._owner = threading.get_ident()

    def client(self, evidence: EvidenceSink) -> ChromiumViewerClient:
        """A browser without a session (new incognito context)."""
        if threading.get_ident() != self._owner:
            raise RuntimeError("Chromium is driven through Playwright's sync API: use it from the thread that started it")
        return ChromiumViewerClient(self._browser.new_context(), evidence, self.timeout, self.settle_s)

    def close(self) -> None:
        try:
            self._browser.close()
        finally:
            self._playwright.stop()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ChromiumViewerClient:
    """The contract of ``ViewerClient`` in a real browser: ``open(url)``, ``login_as(navigation, user_key)``."""

    def __init__(self, context: Any, evidence: EvidenceSink, timeout: float, settle_s: float) -> None:
        from playwright.sync_api import Error as PlaywrightError

        self._error_type = PlaywrightError
        self.evidence = evidence
        self.timeout = timeout
        self.settle_s = settle_s
        self._count = 0
        self._hops: list[Hop] = []  # main-frame document responses of the current navigation
        self._types: dict[str, str] = {}  # their content types, by URL
        self._context = context
        self._context.set_default_timeout(timeout * 1000)
        self._page = context.new_page()
        self._page.on("request", self._on_request)
        self._page.on("response", self._on_response)
        self._page.on("requestfailed", self._on_failed)

    def close(self) -> None:
        try:
            self._context.close()
        except self._error_type:
            pass

    def __enter__(self) -> ChromiumViewerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- navigation ----------------------------------------------------------------------
    def open(self, url: str) -> Navigation:
        """Go to ``url``; stops where the browser comes to rest (maybe an IdP login page)."""
        self._hops = []
        try:
            self._page.goto(url, wait_until="load")
        except self._error_type as exc:
            raise self._no_answer(url, exc) from exc
        return self._navigation(())

    def login_as(self, navigation: Navigation, user_key: str, *, cancel: bool = False) -> Navigation:
        """Choose ``user_key`` on the login page the browser is at and press its button (or cancel)."""
        form = navigation.login_form
        if form is None:
            raise ViewerError(f"no identity-provider login form at {navigation.final_url} (HTTP {navigation.status})")
        if not cancel and user_key not in form.users:
            raise ViewerError(f"user {user_key!r} is not offered by the login page (offered: {', '.join(form.users)})")
        if self._page.url != navigation.final_url:
            raise ViewerError(f"the browser is at {self._page.url}, not at the login page {navigation.final_url}")
        self._hops = []
        page_form = self._page.locator(f"form:has([name={_css(USER_FIELD)}])").first
        try:
            if not cancel:
                self._choose(page_form, user_key)
            button = self._button(page_form, form.submit, cancel)
            with self._page.expect_navigation(wait_until="load"):
                if button is not None:
                    button.click()
                else:
                    page_form.evaluate("form => form.requestSubmit()")
        except self._error_type as exc:
            raise self._no_answer(form.action, exc) from exc
        return self._navigation(navigation.chain)

    # -- helpers -------------------------------------------------------------------------
    def _choose(self, page_form: Any, user_key: str) -> None:
        field = page_form.locator(f"[name={_css(USER_FIELD)}]")
        tag = field.first.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
        if tag.startswith("select"):
            field.first.select_option(user_key)
        elif tag in ("input:radio", "input:checkbox"):
            page_form.locator(f"input[name={_css(USER_FIELD)}][value={_css(user_key)}]").check()
        else:
            field.first.fill(user_key)

    def _button(self, page_form: Any, submit: tuple[str, str] | None, cancel: bool) -> Any | None:
        if cancel:
            candidates = [f"button[value={_css('cancel')}]", f"input[type=submit][value={_css('cancel')}]"]
        elif submit is not None:
            candidates = [f"button[name={_css(submit[0])}][value={_css(submit[1])}]"]
        else:
            candidates = ["button[type=submit]:not([value=cancel])", "input[type=submit]:not([value=cancel])"]
        for selector in candidates:
            button = page_form.locator(selector)
            if button.count():
                return button.first
        return None

    def _navigation(self, before: tuple[Hop, ...]) -> Navigation:
        try:
            self._page.wait_for_load_state("networkidle", timeout=self.settle_s * 1000)
        except self._error_type:
            pass  # still busy after settle_s: judge the page as it is
        url = self._page.url
        content = self._page.content()
        status, content_type = self._last_document()
        self._count += 1
        page = self.evidence.record(
            CHANNEL, f"browser-page-{self._count}", content.encode("utf-8"), None,
            {"url": url, "status": status, "rendered": True}, "html",
        )  # fmt: skip
        form, issuer = login_form_of(status, content_type, content.encode("utf-8"), url)
        return Navigation(url, status, content, (*before, *self._hops), issuer, form, seqs_of(page))

    def _last_document(self) -> tuple[int, str]:
        """Status and content type of the main frame's last document response (200 / text/html if none was seen)."""
        for hop in reversed(self._hops):
            if hop.location is None:
                return hop.status, self._types.get(hop.url, "text/html")
        return 200, "text/html"

    def _no_answer(self, url: str, exc: Exception) -> ViewerError:
        message = getattr(exc, "message", str(exc)).splitlines()[0]
        error = f"no HTTP answer from {url}: {message}"
        self._count += 1
        self.evidence.record(CHANNEL, f"browser-error-{self._count}", error.encode("utf-8"), error, {"url": url}, "txt")
        return ViewerError(error)

    # -- events (evidence first) ---------------------------------------------------------
    def _on_request(self, request: Any) -> None:
        self._count += 1
        head = f"{request.method} {request.url} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
        body = request.post_data_buffer or b""
        self.evidence.record(
            CHANNEL, f"browser-request-{self._count}", head.encode("latin-1", "replace") + b"\r\n" + body,
            None, {"url": request.url, "method": request.method, "navigation": request.is_navigation_request()}, "http",
        )  # fmt: skip

    def _on_response(self, response: Any) -> None:
        self._count += 1
        request = response.request
        headers = response.headers
        head = f"HTTP/1.1 {response.status} {response.status_text}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.evidence.record(
            CHANNEL, f"browser-response-{self._count}-{response.status}", head.encode("latin-1", "replace"),
            None, {"url": response.url, "status": response.status}, "http",
        )  # fmt: skip
        if request.is_navigation_request() and request.frame == self._page.main_frame:
            location = headers.get("location") if 300 <= response.status < 400 else None
            self._hops.append(Hop(request.method, response.url, response.status, urljoin(response.url, location) if location else None))
            self._types[response.url] = headers.get("content-type", "")

    def _on_failed(self, request: Any) -> None:
        self._count += 1
        error = f"{request.method} {request.url}: {request.failure}"
        self.evidence.record(CHANNEL, f"browser-failed-{self._count}", error.encode("utf-8"), error, {"url": request.url}, "txt")


def _css(value: str) -> str:
    """A CSS string literal (double quotes; JSON escapes are valid CSS escapes for these values)."""
    return json.dumps(value, ensure_ascii=False)


__all__ = ["BrowserUnavailable", "Chromium", "ChromiumViewerClient", "spki_sha256", "unavailable_reason", "verified_spki"]
