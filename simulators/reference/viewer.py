"""The reference DRIMbox's viewer entry point (VA-C1 patient, VA-C2 professional), over HTTPS.

Routes (query parameter names matched case-insensitively):

- ``GET /IHEInvokeImageDisplay?requestType=STUDY&studyUID=…&Accessionnumber=…&idCDA=…[&idp=psc|fc]``
  (cda-cr-imagerie.md §4). ``requestType`` must be ``STUDY`` and ``studyUID``
  a UID (400); the study must be one this DRIMbox currently publishes (its
  ``state_dir``) and ``Accessionnumber``, when given, its accession number
  (the extension alone, or ``root.extension``), else 404. ``idCDA`` is not
  checked (the reference does not keep the CDA id).
  Without a session: ``idp=psc`` (Pro Santé Connect, professionals) or
  ``idp=fc`` (FranceConnect+, patients) → 302 to that provider's
  authorization endpoint; without ``idp`` and two providers configured → 200
  HTML choice page with two plain links (``<a id="login-psc">``,
  ``<a id="login-fc">``, no JavaScript, the page does not name the study);
  with one provider configured → 302 to it.
  With a session: 200 HTML page naming the study
  (``<meta name="study-instance-uid" content="…">`` and the UID in the text),
  or 403 when the session's user may not see it.
- ``GET /viewer/login?idp=…&ticket=…``: the choice page's links → 302 to the provider.
- ``GET /viewer/callback?code=…&state=…``: code exchange (``oidc_rp``), session
  cookie ``drimbox_viewer`` (Secure, HttpOnly, SameSite=Lax) and 302 back to the
  viewer URL first asked; unknown/expired ``state``: 400; provider error or
  refused id_token (unknown issuer, bad signature, nonce, acr): 401;
  provider unreachable: 503.
- ``GET /viewer/api/study?studyUID=…``: JSON ``{studyInstanceUID,
  accessionNumber, kosSopInstanceUID, series: [{seriesInstanceUID,
  instances}]}`` (the KOS's series); 401 without a session, 403, 404 as above.

Who may see a study (decisions, the public material being silent):
- a Pro Santé Connect user whose id_token ``acr`` is ``eidas1`` (checked at
  login) sees any study this DRIMbox published;
- a FranceConnect+ user (``acr`` ``eidas2`` or ``eidas3``) sees a study when
  the identity pivot matches the study's patient INS traits: ``family_name`` =
  birth name, first word of ``given_name`` = first given name (case, accents,
  hyphens and apostrophes ignored), ``birthdate`` = birth date, ``gender``
  (male/female) = sex, and, when the study's birth place is known,
  ``birthplace`` (INSEE code; ``birthcountry`` for a place ``99…``).
The redirect URI is ``https://<Host header of the entry request>/viewer/callback``
so the cookie is set on the host the user typed.

Faults: ``viewer_no_login`` (the study is served without a session),
``viewer_ignore_patient_identity`` (any FranceConnect+ user sees any study);
``viewer_accept_any_issuer`` acts in ``oidc_rp``.
"""

from __future__ import annotations

import html
import json
import logging
import re
import secrets
import threading
import time
import unicodedata
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .oidc_rp import LoginRefused, OidcRelyingParty, PendingLogin, ProviderUnavailable
from .publication import KosPublication
from .https_server import Request, Response, ServedByTlsHttp, TlsHttpServer, capped, text_response
from .source_server import kos_references
from .state import PublishedKos, StateStore

ENTRY_PATH = "/IHEInvokeImageDisplay"
LOGIN_PATH = "/viewer/login"
CALLBACK_PATH = "/viewer/callback"
API_PATH = "/viewer/api/study"
COOKIE = "drimbox_viewer"
PROFESSIONAL = "psc"
PATIENT = "fc"
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class ViewerSession:
    provider: str
    claims: dict[str, Any]
    expires_at: float

    @property
    def subject(self) -> str:
        return str(self.claims.get("sub", ""))


class _Expiring:
    """A small thread-safe map whose entries expire (logins in progress, tickets, sessions)."""

    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, value: Any, expires_at: float) -> None:
        now = time.time()
        with self._lock:
            if len(self._items) >= _MAX_ENTRIES:
                self._items = {k: v for k, v in self._items.items() if v[0] > now}
            self._items[key] = (expires_at, value)

    def get(self, key: str, *, pop: bool = False) -> Any:
        with self._lock:
            item = self._items.pop(key, None) if pop else self._items.get(key)
        if item is None or item[0] <= time.time():
            return None
        return item[1]


def query_params(query: str) -> dict[str, str]:
    """The first value of each query parameter, names lower-cased."""
    params: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(name.lower(), value)
    return params


def _fold(text: str) -> str:
    """Upper case, no accents, no separators: how INS traits are compared."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if ch.isalnum()).upper()


def patient_mismatch(claims: dict[str, Any], pub: KosPublication) -> str:
    """Why the FranceConnect+ identity is not the study's patient, or '' when it is."""
    given = str(claims.get("given_name") or "").split()
    sex = {"male": "M", "female": "F"}.get(str(claims.get("gender", "")).lower(), str(claims.get("gender", "")).upper())
    checks = [
        ("family_name", _fold(str(claims.get("family_name") or "")), _fold(pub.birth_name)),
        ("given_name", _fold(given[0]) if given else "", _fold(pub.given_name.split(" ")[0])),
        ("birthdate", str(claims.get("birthdate") or "").replace("-", ""), pub.birth_date),
        ("gender", sex, pub.sex.upper()),
    ]
    if pub.birth_place:
        name = "birthcountry" if pub.birth_place.startswith("99") else "birthplace"
        checks.append((name, str(claims.get(name) or ""), pub.birth_place))
    for name, got, wanted in checks:
        if not wanted or got != wanted:
            return f"{name} {got!r} does not match the study's patient ({wanted!r})"
    return ""


class ViewerServer(ServedByTlsHttp):
    def __init__(
        self,
        *,
        state: StateStore,
        providers: dict[str, OidcRelyingParty],
        cert: Path,
        key: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: frozenset[str] = frozenset(),
        timeout_s: float = 10.0,
        session_ttl_s: float = 1800.0,
        log: logging.Logger | None = None,
    ) -> None:
        if not providers:
            raise ValueError("the viewer needs at least one identity provider")
        self.state = state
        self.providers = providers
        self.faults = faults
        self.session_ttl_s = session_ttl_s
        self.log = log or logging.getLogger("reference.viewer")
        self._logins = _Expiring()  # state -> PendingLogin
        self._tickets = _Expiring()  # ticket -> return_to
        self._sessions = _Expiring()  # cookie value -> ViewerSession
        self.http = TlsHttpServer(self.handle, cert, key, host, port, timeout_s=timeout_s, log=self.log)

    def url(self, path: str = "") -> str:
        return self.http.url(path)

    # -- routing -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        response = self._route(request)
        self.log.info(
            "viewer %s %s from %s: %d%s", request.method, capped(request.path), request.client[0], response.status,
            f" {response.body[:200].decode('utf-8', 'replace')}" if response.status >= 400 else "",
        )  # fmt: skip
        return response

    def _route(self, request: Request) -> Response:
        routes = {ENTRY_PATH: self._entry, LOGIN_PATH: self._login, CALLBACK_PATH: self._callback, API_PATH: self._api}
        route = routes.get(request.path.rstrip("/") or "/")
        if route is None:
            return text_response(404, f"no such resource: {request.path}")
        if request.method not in ("GET", "HEAD"):
            return text_response(405, "only GET is supported", ("Allow", "GET"))
        return route(request, query_params(request.query))

    # -- the entry point ---------------------------------------------------------------------

    def _entry(self, request: Request, params: dict[str, str]) -> Response:
        if params.get("requesttype", "").upper() != "STUDY":
            return text_response(400, "requestType must be STUDY")
        record, refusal = self._study(params)
        if record is None:
            return refusal
        session = self._session(request)
        if session is None and "viewer_no_login" in self.faults:
            self.log.info("fault viewer_no_login: study %s served without a session", record.study_uid)
            return _html(200, study_page(record, None))
        if session is None:
            return_to = f"{ENTRY_PATH}?{request.query}"
            wanted = params.get("idp", "").lower()
            if not wanted and len(self.providers) == 1:
                wanted = next(iter(self.providers))
            if not wanted:
                return self._choice_page(return_to)
            return self._redirect_to_provider(request, wanted, return_to)
        denied = self._denied(session, record)
        if denied:
            return denied
        return _html(200, study_page(record, session))

    def _study(self, params: dict[str, str]) -> tuple[PublishedKos | None, Response]:
        uid = params.get("studyuid", "")
        if not (_UID.match(uid) and len(uid) <= 64):
            return None, text_response(400, "studyUID is missing or not a UID")
        record = self.state.current(uid)
        if record is None:
            return None, text_response(404, f"study {uid} is not published by this DRIMbox")
        accession = params.get("accessionnumber")
        pub = record.publication
        if accession and accession not in (pub.accession, f"{pub.accession_issuer}.{pub.accession}"):
            return None, text_response(404, f"accession number {accession!r} is not the one of study {uid}")
        return record, text_response(200, "")

    def _choice_page(self, return_to: str) -> Response:
        ticket = secrets.token_urlsafe(18)
        self._tickets.put(ticket, return_to, time.time() + 600)
        links = "".join(
            f'<li><a id="login-{name}" href="{LOGIN_PATH}?{urlencode({"idp": name, "ticket": ticket})}">'
            f"{html.escape(_LABELS.get(name, name))}</a></li>"
            for name in self.providers
        )
        body = f"<h1>Connexion à la visionneuse</h1><p>Choisissez votre mode de connexion :</p><ul>{links}</ul>"
        return _html(200, _document("Connexion", body))

    def _login(self, request: Request, params: dict[str, str]) -> Response:
        return_to = self._tickets.get(params.get("ticket", ""))
        if return_to is None:
            return text_response(400, "unknown or expired ticket: open the viewer URL again")
        return self._redirect_to_provider(request, params.get("idp", "").lower(), return_to)

    def _redirect_to_provider(self, request: Request, name: str, return_to: str) -> Response:
        provider = self.providers.get(name)
        if provider is None:
            return text_response(400, f"unknown identity provider {name!r}; known: {', '.join(self.providers)}")
        try:
            location, pending = provider.start_login(self._callback_url(request), return_to)
        except ProviderUnavailable as exc:
            self.log.info("provider %s unavailable: %s", name, exc)
            return text_response(503, f"identity provider {name} unavailable")
        self._logins.put(pending.state, pending, pending.expires_at)
        return Response(302, [("Location", location), ("Cache-Control", "no-store")])

    def _callback_url(self, request: Request) -> str:
        host = request.header("Host") or ""
        if not _HOST.match(host):
            return self.url(CALLBACK_PATH)
        return f"https://{host}{CALLBACK_PATH}"

    # -- the callback ------------------------------------------------------------------------

    def _callback(self, request: Request, params: dict[str, str]) -> Response:
        pending: PendingLogin | None = self._logins.get(params.get("state", ""), pop=True)
        if pending is None:
            return text_response(400, "unknown or expired state")
        if params.get("error"):
            return text_response(401, f"login failed at the provider: {params['error']} {params.get('error_description', '')}")
        if not params.get("code"):
            return text_response(400, "no code in the callback")
        provider = self.providers[pending.provider]
        try:
            result = provider.finish_login(params["code"], pending)
        except LoginRefused as exc:
            self.log.info("login through %s refused: %s", pending.provider, exc)
            return text_response(401, f"login refused: {exc}")
        except ProviderUnavailable as exc:
            self.log.info("provider %s unavailable: %s", pending.provider, exc)
            return text_response(503, f"identity provider {pending.provider} unavailable")
        sid = secrets.token_urlsafe(32)
        expires = time.time() + self.session_ttl_s
        self._sessions.put(sid, ViewerSession(pending.provider, result.claims, expires), expires)
        self.log.info("session opened through %s for %s (acr %s)", pending.provider, result.claims.get("sub"), result.acr)
        cookie = f"{COOKIE}={sid}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={int(self.session_ttl_s)}"
        return_to = pending.return_to
        if "viewer_login_loses_study" in self.faults:  # the viewer's home, the study URL's query lost
            self.log.info("fault viewer_login_loses_study: back to %s instead of %s", ENTRY_PATH, return_to)
            return_to = ENTRY_PATH
        return Response(302, [("Location", return_to), ("Set-Cookie", cookie), ("Cache-Control", "no-store")])

    # -- the API -----------------------------------------------------------------------------

    def _api(self, request: Request, params: dict[str, str]) -> Response:
        record, refusal = self._study(params)
        if record is None:
            return refusal
        session = self._session(request)
        if session is None and "viewer_no_login" not in self.faults:
            return text_response(401, "no session: open the viewer URL and log in")
        if session is not None:
            denied = self._denied(session, record)
            if denied:
                return denied
        body = json.dumps(study_json(record), ensure_ascii=False).encode("utf-8")
        return Response(200, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body)

    # -- sessions ----------------------------------------------------------------------------

    def _session(self, request: Request) -> ViewerSession | None:
        for header in request.header_values("Cookie"):
            try:
                cookies = SimpleCookie(header)
            except CookieError:
                continue
            if COOKIE in cookies:
                session = self._sessions.get(cookies[COOKIE].value)
                if session is not None:
                    return session
        return None

    def _denied(self, session: ViewerSession, record: PublishedKos) -> Response | None:
        if session.provider != PATIENT:
            return None
        mismatch = patient_mismatch(session.claims, record.publication)
        if not mismatch:
            return None
        if "viewer_ignore_patient_identity" in self.faults:
            self.log.info("fault viewer_ignore_patient_identity: %s", mismatch)
            return None
        self.log.info("patient %s refused study %s: %s", session.subject, record.study_uid, mismatch)
        return text_response(403, "this study is not yours")


_LABELS = {PROFESSIONAL: "Professionnel de santé : Pro Santé Connect", PATIENT: "Patient : FranceConnect+"}


def study_json(record: PublishedKos) -> dict[str, Any]:
    pub = record.publication
    references = kos_references(pub.kos_bytes, record.study_uid)
    return {
        "studyInstanceUID": record.study_uid,
        "accessionNumber": pub.accession,
        "kosSopInstanceUID": record.unique_id,
        "series": [{"seriesInstanceUID": uid, "instances": len(refs)} for uid, refs in references.items()],
    }


def study_page(record: PublishedKos, session: ViewerSession | None) -> str:
    pub, uid = record.publication, html.escape(record.study_uid)
    series = "".join(
        f"<tr><td>{html.escape(s['seriesInstanceUID'])}</td><td>{s['instances']}</td></tr>" for s in study_json(record)["series"]
    )
    patient = " ; ".join(
        html.escape(value)
        for value in (pub.birth_name, pub.given_name, pub.birth_date, pub.sex, pub.birth_place)
        if value
    )  # INS traits shown by default (trust-list-and-identity.md §6)
    who = html.escape(f"{session.provider} {session.subject}") if session else "anonyme"
    body = (
        f"<h1>Examen {uid}</h1>"
        f'<p>Study Instance UID : <span id="study-instance-uid">{uid}</span></p>'
        f"<p>N° d'examen : {html.escape(pub.accession)}</p><p>Patient : {patient}</p>"
        f"<table><tr><th>Série</th><th>Instances</th></tr>{series}</table><p>Connecté : {who}</p>"
    )
    return _document(f"Examen {uid}", body, f'<meta name="study-instance-uid" content="{uid}">')


def _document(title: str, body: str, head: str = "") -> str:
    return (
        f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>{html.escape(title)}</title>{head}</head>'
        f"<body>{body}</body></html>"
    )


def _html(status: int, page: str) -> Response:
    return Response(status, [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")], page.encode("utf-8"))
