"""The OpenID Connect provider machinery shared by the Pro Santé Connect and FranceConnect+ simulators.

One implementation, configured per provider (``ProviderConfig``): a real HTTPS
server (``HttpsServer``, certificate of the run's CA) serving

- discovery (``{issuer}/.well-known/openid-configuration``) and the JWKS;
- the authorization endpoint (GET, authorization-code flow, PKCE ``S256``
  required): after checking ``client_id`` and ``redirect_uri`` against the
  registered clients it answers an HTML login page listing the test users
  (a form that works without JavaScript); POSTing it (``auth_request`` +
  ``user``) redirects to ``redirect_uri?code=…&state=…&iss=…``, or with
  ``error=access_denied`` when the user cancels;
- the token endpoint (``client_secret_post`` or ``client_secret_basic``;
  ``code_verifier`` checked against the challenge; codes single-use and
  short-lived, a replayed code revokes the tokens it gave);
- userinfo (Bearer) and introspection (RFC 7662, client-authenticated).

Tokens are RS256 JWTs signed by the key published in the JWKS. Errors are
OAuth2 error responses (JSON ``error`` / ``error_description``, or a redirect
with ``error`` once the redirect URI is trusted). Every request and response
is written to the evidence sink (labels ``request-N`` / ``response-N-<status>``)
before it is answered.

Where the public material is silent (see trust-list-and-identity.md §4-5): the
requested ``acr_values`` are recorded but the provider always issues its own
``acr``; userinfo answers plain JSON (the real FranceConnect+ signs it); the
login page POSTs to a separate ``login_path`` of the issuer.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from drimva.evidence import EvidenceSink
from drimva.tokens import TokenCheck, bearer_token, verify_access_token
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer, ServedOverHttps, decoded_view

LOGIN_FORM_ID = "oidc-login"
ISSUER_META = "oidc-issuer"


class SigningKey:
    """An RSA-2048 key with its public JWK (``kid`` = RFC 7638 thumbprint)."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        self.kid = _thumbprint(jwk)
        self.jwk = {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def sign(self, claims: Mapping[str, Any]) -> str:
        return jwt.encode(dict(claims), self.private, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})


def _thumbprint(jwk: Mapping[str, Any]) -> str:
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_PKCE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")


def pkce_challenge(verifier: str) -> str:
    """The S256 ``code_challenge`` of a ``code_verifier`` (RFC 7636 §4.2)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def _half_hash(value: str) -> str:
    """``at_hash``: left half of the SHA-256 of the token, base64url (OIDC Core §3.1.3.6)."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return _b64(digest[: len(digest) // 2])


@dataclass(frozen=True)
class ProviderConfig:
    """What differs between two providers; paths are relative to the server root."""

    channel: str  # evidence channel
    name: str  # shown on the login page
    issuer_path: str
    authorization_path: str
    token_path: str
    userinfo_path: str
    jwks_path: str
    login_path: str
    introspection_path: str | None = None
    acr: str = "eidas1"
    scopes_supported: tuple[str, ...] = ("openid",)
    required_scopes: tuple[str, ...] = ("openid",)
    # scope -> claims it releases; None: every user claim is released whatever the scope
    scope_claims: Mapping[str, tuple[str, ...]] | None = None
    pairwise_subjects: bool = False  # ``sub`` opaque and different for every client
    id_token_lifetime_s: int = 300
    access_token_lifetime_s: int = 300
    code_lifetime_s: int = 60
    login_lifetime_s: int = 600


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    secret: str
    redirect_uris: tuple[str, ...]


@dataclass(frozen=True)
class TestUser:
    __test__ = False

    key: str  # what the login form submits (field ``user``)
    label: str  # shown on the login page
    claims: Mapping[str, Any]  # the user's claims (``sub`` optional: the key by default)


@dataclass
class _PendingLogin:
    client_id: str
    redirect_uri: str
    state: str | None
    nonce: str | None
    scope: tuple[str, ...]
    code_challenge: str
    acr_values: str | None
    expires_at: float


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    scope: tuple[str, ...]
    code_challenge: str
    user: TestUser
    auth_time: int
    sid: str
    expires_at: float
    used: bool = False
    token_ids: list[str] = field(default_factory=list)


class OAuthError(Exception):
    """An OAuth2 error answer (RFC 6749 §5.2 / OIDC Core §3.1.2.6)."""

    def __init__(self, error: str, description: str, status: int = 400, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(f"{error}: {description}")
        self.error, self.description, self.status, self.headers = error, description, status, list(headers)


class OidcProvider(ServedOverHttps):
    """An OIDC provider on a real HTTPS socket; subclasses fix the ``ProviderConfig``.

    ``register_client(client_id, secret, redirect_uris)`` and
    ``add_user(key, claims, label)`` configure it in-process (before or while
    it runs); ``start()`` / ``stop()`` or ``with``.
    """

    def __init__(
        self,
        config: ProviderConfig,
        evidence: EvidenceSink,
        cert: Path,
        key: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        timeout: float = 10.0,
        access_token_audience: str | None = None,
    ) -> None:
        self.config = config
        self.evidence = evidence
        self.access_token_audience = access_token_audience
        self._key = SigningKey()
        self._foreign_key = SigningKey()  # not in the JWKS: for forged ID tokens
        self.forged_issuer: str | None = None  # set: ID tokens carry this issuer and the foreign key's signature
        self._salt = secrets.token_hex(16)
        self._lock = threading.Lock()
        self._requests = 0
        self._clients: dict[str, RegisteredClient] = {}
        self._users: dict[str, TestUser] = {}
        self._pending: dict[str, _PendingLogin] = {}
        self._grants: dict[str, _Grant] = {}
        self._revoked: set[str] = set()
        self._server = HttpsServer(self._handle, cert, key, None, host=host, port=port, client_auth="none", timeout=timeout)

    # -- lifecycle -------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        return self.base_url + self.config.issuer_path

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_url(self) -> str:
        return self.base_url + self.config.jwks_path

    @property
    def authorization_endpoint(self) -> str:
        return self.base_url + self.config.authorization_path

    @property
    def token_endpoint(self) -> str:
        return self.base_url + self.config.token_path

    @property
    def userinfo_endpoint(self) -> str:
        return self.base_url + self.config.userinfo_path

    @property
    def requests_served(self) -> int:
        with self._lock:
            return self._requests

    # -- configuration ---------------------------------------------------------------
    def register_client(self, client_id: str, secret: str, redirect_uris: Sequence[str]) -> RegisteredClient:
        """Register (or replace) a relying party; redirect URIs are matched exactly."""
        client = RegisteredClient(client_id, secret, tuple(redirect_uris))
        with self._lock:
            self._clients[client_id] = client
        return client

    def add_user(self, key: str, claims: Mapping[str, Any], label: str | None = None) -> TestUser:
        """Add (or replace) a test user; ``key`` is the value the login form submits."""
        user = TestUser(key, label or key, dict(claims))
        with self._lock:
            self._users[key] = user
        return user

    @property
    def users(self) -> list[TestUser]:
        with self._lock:
            return list(self._users.values())

    # -- tokens ------------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self._key.jwk)]}

    def sign(self, claims: Mapping[str, Any]) -> str:
        """Sign arbitrary claims with the published key (tests, forged variants)."""
        return self._key.sign(claims)

    def subject(self, user: TestUser, client_id: str) -> str:
        """The ``sub`` the client sees: public, or opaque per client (pairwise)."""
        if self.config.pairwise_subjects:
            return hashlib.sha256(f"{self._salt}:{client_id}:{user.key}".encode()).hexdigest() + "v1"
        return str(user.claims.get("sub") or user.key)

    def released_claims(self, user: TestUser, scope: Sequence[str]) -> dict[str, Any]:
        """The user's claims the granted scope releases (all of them without a scope map)."""
        claims = {k: v for k, v in user.claims.items() if k != "sub"}
        if self.config.scope_claims is None:
            return claims
        allowed = {name for s in scope for name in self.config.scope_claims.get(s, ())}
        return {k: v for k, v in claims.items() if k in allowed}

    def verify(self, token: str | None, *, audience: str) -> TokenCheck:
        """In-process check of a token signed by this provider (signature, iss, aud, exp, not revoked)."""
        result = verify_access_token(token, self.jwks(), issuer=self.issuer, audience=audience)
        if result.valid:
            with self._lock:
                revoked = result.claims.get("jti") in self._revoked
            if revoked:
                return TokenCheck(False, problem="token revoked (its authorization code was replayed)")
        return result

    # -- HTTP ---------------------------------------------------------------------------
    def discovery(self) -> dict[str, Any]:
        c = self.config
        document: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "userinfo_endpoint": self.userinfo_endpoint,
            "jwks_uri": self.jwks_url,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["pairwise" if c.pairwise_subjects else "public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(c.scopes_supported),
            "claims_supported": sorted({"sub", "iss", "aud", "acr", "auth_time", "nonce", *self._known_claims()}),
            "acr_values_supported": [c.acr],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "authorization_response_iss_parameter_supported": True,
        }
        if c.introspection_path:
            document["introspection_endpoint"] = self.base_url + c.introspection_path
        return document

    def _known_claims(self) -> set[str]:
        if self.config.scope_claims is not None:
            return {n for names in self.config.scope_claims.values() for n in names}
        with self._lock:
            return {k for u in self._users.values() for k in u.claims}

    def _handle(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            index = self._requests
            self._requests += 1
        channel = self.config.channel
        meta = {"request": index, "path": request.path, "client": f"{request.client_address[0]}:{request.client_address[1]}"}
        self.evidence.record(
            channel, f"request-{index}", request.raw(),
            decoded_view(f"{request.method} {request.target} {request.version}", request.headers, request.body), meta, "http",
        )
        try:
            response = self._route(request)
        except OAuthError as exc:
            response = _json(exc.status, {"error": exc.error, "error_description": exc.description}, exc.headers)
        self.evidence.record(
            channel, f"response-{index}-{response.status}", response.raw(),
            decoded_view(f"HTTP/1.1 {response.status}", response.headers, response.body), {**meta, "status": response.status},
            "http",
        )
        return response

    def _routes(self) -> dict[str, tuple[tuple[str, ...], Callable[[HttpRequest], HttpResponse]]]:
        c = self.config
        routes: dict[str, tuple[tuple[str, ...], Callable[[HttpRequest], HttpResponse]]] = {
            f"{c.issuer_path}/.well-known/openid-configuration": (("GET", "HEAD"), lambda r: _json(200, self.discovery())),
            c.jwks_path: (("GET", "HEAD"), lambda r: _json(200, self.jwks())),
            c.authorization_path: (("GET",), self._authorize),
            c.login_path: (("POST",), self._login),
            c.token_path: (("POST",), self._token),
            c.userinfo_path: (("GET", "POST"), self._userinfo),
        }
        if c.introspection_path:
            routes[c.introspection_path] = (("POST",), self._introspect)
        return routes

    def _route(self, request: HttpRequest) -> HttpResponse:
        entry = self._routes().get(request.path.rstrip("/"))
        if entry is None:
            return _json(404, {"error": "not_found", "error_description": f"no resource at {request.path}"})
        methods, produce = entry
        if request.method not in methods:
            allow = ", ".join(methods)
            return HttpResponse(405, [("Allow", allow), ("Content-Type", "text/plain")], b"method not allowed")
        return produce(request)

    # -- authorization endpoint ------------------------------------------------------------
    def _authorize(self, request: HttpRequest) -> HttpResponse:
        q = {k: v[0] for k, v in request.query.items() if v}
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        with self._lock:
            client = self._clients.get(client_id)
        # Without a trusted redirect URI the error is shown, never redirected (OIDC Core §3.1.2.6).
        if client is None:
            return _error_page(400, "unauthorized_client", f"unknown client_id {client_id!r}")
        if redirect_uri not in client.redirect_uris:
            return _error_page(400, "invalid_request", f"redirect_uri {redirect_uri!r} is not registered for {client_id!r}")
        state = q.get("state")
        scope = tuple(q.get("scope", "").split())
        problem: tuple[str, str] | None = None
        if q.get("response_type") != "code":
            problem = ("unsupported_response_type", f"response_type {q.get('response_type')!r}: only 'code' is supported")
        elif missing := [s for s in self.config.required_scopes if s not in scope]:
            problem = ("invalid_scope", f"scope must include {' '.join(missing)}")
        elif not q.get("code_challenge"):
            problem = ("invalid_request", "PKCE is required: code_challenge missing")
        elif q.get("code_challenge_method") != "S256":
            problem = ("invalid_request", f"code_challenge_method {q.get('code_challenge_method')!r}: only S256")
        if problem:
            return _redirect(redirect_uri, {"error": problem[0], "error_description": problem[1], "state": state, "iss": self.issuer})
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            self._prune(time.time())
            self._pending[ticket] = _PendingLogin(
                client_id, redirect_uri, state, q.get("nonce"), scope, q["code_challenge"], q.get("acr_values"),
                time.time() + self.config.login_lifetime_s,
            )
        return self._login_page(ticket)

    def _prune(self, now: float) -> None:
        """Forget abandoned logins and long-dead codes (a replay is still caught while the code lives)."""
        self._pending = {k: p for k, p in self._pending.items() if p.expires_at >= now}
        self._grants = {k: g for k, g in self._grants.items() if g.expires_at >= now - self.config.login_lifetime_s}

    def _login_page(self, ticket: str) -> HttpResponse:
        e = html.escape
        options = "\n".join(
            f'<li><label><input type="radio" name="user" value="{e(u.key)}"{" checked" if i == 0 else ""}> {e(u.label)}</label></li>'
            for i, u in enumerate(self.users)
        )
        page = f"""<!DOCTYPE html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="{ISSUER_META}" content="{e(self.issuer)}">
<title>{e(self.config.name)} - connexion</title></head>
<body><h1>{e(self.config.name)} (simulateur)</h1>
<form id="{LOGIN_FORM_ID}" method="post" action="{e(self.base_url + self.config.login_path)}">
<input type="hidden" name="auth_request" value="{e(ticket)}">
<ul>
{options}
</ul>
<button type="submit" name="action" value="login">Se connecter</button>
<button type="submit" name="action" value="cancel">Annuler</button>
</form></body></html>
"""
        return HttpResponse(
            200,
            [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store"), ("X-Frame-Options", "DENY")],
            page.encode("utf-8"),
        )

    def _login(self, request: HttpRequest) -> HttpResponse:
        form = _form(request)
        ticket = form.get("auth_request", "")
        with self._lock:
            pending = self._pending.pop(ticket, None)
            user = self._users.get(form.get("user", ""))
        if pending is None or pending.expires_at < time.time():
            return _error_page(400, "invalid_request", "unknown or expired login request")
        base = {"state": pending.state, "iss": self.issuer}
        if form.get("action") == "cancel":
            return _redirect(pending.redirect_uri, {"error": "access_denied", "error_description": "login cancelled", **base})
        if user is None:
            return _redirect(pending.redirect_uri, {"error": "access_denied", "error_description": "unknown user", **base})
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._grants[code] = _Grant(
                pending.client_id, pending.redirect_uri, pending.nonce, pending.scope, pending.code_challenge, user,
                int(time.time()), str(uuid.uuid4()), time.time() + self.config.code_lifetime_s,
            )
        return _redirect(pending.redirect_uri, {"code": code, **base})

    # -- token endpoint ------------------------------------------------------------------------
    def _authenticate_client(self, request: HttpRequest, form: Mapping[str, str]) -> RegisteredClient:
        basic = request.header("Authorization")
        client_id = secret = None
        if basic and basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:].strip(), validate=True).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise OAuthError("invalid_client", "malformed Basic credentials", 401, [("WWW-Authenticate", 'Basic realm="oidc"')])
            raw_id, _, raw_secret = decoded.partition(":")
            client_id, secret = unquote_plus(raw_id), unquote_plus(raw_secret)
        elif "client_secret" in form:
            client_id, secret = form.get("client_id"), form["client_secret"]
        with self._lock:
            client = self._clients.get(client_id or "")
        if client is None or secret is None or not secrets.compare_digest(client.secret.encode("utf-8"), secret.encode("utf-8", "replace")):
            headers = [("WWW-Authenticate", 'Basic realm="oidc"')] if basic else []
            raise OAuthError("invalid_client", "client authentication failed", 401, headers)
        if form.get("client_id") not in (None, client.client_id):
            raise OAuthError("invalid_client", "client_id does not match the authenticated client", 401)
        return client

    def _token(self, request: HttpRequest) -> HttpResponse:
        form = _form(request)
        client = self._authenticate_client(request, form)
        if form.get("grant_type") != "authorization_code":
            raise OAuthError("unsupported_grant_type", f"grant_type {form.get('grant_type')!r}")
        for name in ("code", "redirect_uri", "code_verifier"):
            if not form.get(name):
                raise OAuthError("invalid_request", f"{name} missing")
        with self._lock:
            grant = self._grants.get(form["code"])
            replayed = grant is not None and grant.used
            if grant is not None:
                if replayed:
                    self._revoked.update(grant.token_ids)
                grant.used = True
        if grant is None:
            raise OAuthError("invalid_grant", "unknown authorization code")
        if replayed:
            raise OAuthError("invalid_grant", "authorization code already used (the tokens it gave are revoked)")
        if grant.expires_at < time.time():
            raise OAuthError("invalid_grant", "authorization code expired")
        if grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "authorization code issued to another client")
        if grant.redirect_uri != form["redirect_uri"]:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
        if not _PKCE_VERIFIER.fullmatch(form["code_verifier"]):  # RFC 7636 §4.1; a non-ASCII one crashed the hash
            raise OAuthError("invalid_grant", "code_verifier is not 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1)")
        if not secrets.compare_digest(pkce_challenge(form["code_verifier"]).encode(), grant.code_challenge.encode("utf-8", "replace")):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge (PKCE)")
        access_token, access_jti = self._access_token(grant)
        with self._lock:
            grant.token_ids.append(access_jti)
        return _json(
            200,
            {
                "access_token": access_token,
                "id_token": self._id_token(grant, access_token),
                "token_type": "Bearer",
                "expires_in": self.config.access_token_lifetime_s,
                "scope": " ".join(grant.scope),
            },
        )

    def _access_token(self, grant: _Grant) -> tuple[str, str]:
        now = int(time.time())
        jti = str(uuid.uuid4())
        audience: str | list[str] = grant.client_id
        if self.access_token_audience and self.access_token_audience != grant.client_id:
            audience = [grant.client_id, self.access_token_audience]
        claims = {
            **self.released_claims(grant.user, grant.scope),
            "iss": self.issuer,
            "sub": self.subject(grant.user, grant.client_id),
            "aud": audience,
            "azp": grant.client_id,
            "exp": now + self.config.access_token_lifetime_s,
            "iat": now,
            "jti": jti,
            "typ": "Bearer",
            "acr": self.config.acr,
            "auth_time": grant.auth_time,
            "sid": grant.sid,
            "scope": " ".join(grant.scope),
        }
        return self._key.sign(claims), jti

    def _id_token(self, grant: _Grant, access_token: str) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            **self.released_claims(grant.user, grant.scope),
            "iss": self.issuer,
            "sub": self.subject(grant.user, grant.client_id),
            "aud": grant.client_id,
            "azp": grant.client_id,
            "exp": now + self.config.id_token_lifetime_s,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "typ": "ID",
            "acr": self.config.acr,
            "auth_time": grant.auth_time,
            "sid": grant.sid,
            "at_hash": _half_hash(access_token),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        if self.forged_issuer is not None:  # "a token from an unknown issuer" (VA-C negatives)
            claims["iss"] = self.forged_issuer
            return self._foreign_key.sign(claims)
        return self._key.sign(claims)

    # -- userinfo and introspection ----------------------------------------------------------
    def _check_access_token(self, token: str | None) -> TokenCheck:
        result = self.verify(token, audience=_unverified_aud(token))
        if result.valid and result.claims.get("typ") != "Bearer":
            return TokenCheck(False, problem="not an access token")
        return result

    def _userinfo(self, request: HttpRequest) -> HttpResponse:
        token = bearer_token(request.header("Authorization"))
        if token is None and request.method == "POST":
            token = _form(request).get("access_token")
        result = self._check_access_token(token)
        if not result.valid:
            challenge = f'Bearer error="invalid_token", error_description="{result.problem}"' if token else "Bearer"
            raise OAuthError("invalid_token", result.problem, 401, [("WWW-Authenticate", challenge)])
        claims = result.claims
        user = self._user_of(claims)
        scope = tuple(str(claims.get("scope", "")).split())
        body = {**(self.released_claims(user, scope) if user else {}), "sub": claims["sub"]}
        return _json(200, self.userinfo_claims(body))

    def userinfo_claims(self, claims: dict[str, Any]) -> dict[str, Any]:
        """Hook: the userinfo document (subclasses add provider-specific structures)."""
        return claims

    def _user_of(self, claims: Mapping[str, Any]) -> TestUser | None:
        client_id = str(claims.get("azp", ""))
        return next((u for u in self.users if self.subject(u, client_id) == claims.get("sub")), None)

    def _introspect(self, request: HttpRequest) -> HttpResponse:
        form = _form(request)
        self._authenticate_client(request, form)
        result = self._check_access_token(form.get("token"))
        if not result.valid:
            return _json(200, {"active": False})
        return _json(200, {"active": True, "client_id": result.claims.get("azp"), "token_type": "Bearer", **result.claims})


# -- helpers -----------------------------------------------------------------------------------


def _unverified_aud(token: str | None) -> str:
    """The audience to check an access token with: its own ``azp`` or ``aud`` (the provider checks its own tokens)."""
    if not token:
        return ""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return ""
    audience = claims.get("azp") or claims.get("aud") or ""
    return str(audience[0] if isinstance(audience, list) and audience else audience)


def _form(request: HttpRequest) -> dict[str, str]:
    if request.body and "application/x-www-form-urlencoded" not in request.content_type.lower():
        raise OAuthError("invalid_request", "body must be application/x-www-form-urlencoded")
    parsed = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def _json(status: int, data: Mapping[str, Any], headers: Sequence[tuple[str, str]] = ()) -> HttpResponse:
    body = json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")
    base = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache")]
    return HttpResponse(status, base + list(headers), body)


def _redirect(uri: str, params: Mapping[str, str | None]) -> HttpResponse:
    split = urlsplit(uri)
    extra = urlencode({k: v for k, v in params.items() if v is not None})
    query = f"{split.query}&{extra}" if split.query else extra
    location = urlunsplit((split.scheme, split.netloc, split.path, query, ""))
    return HttpResponse(302, [("Location", location), ("Cache-Control", "no-store")], b"")


def _error_page(status: int, error: str, description: str) -> HttpResponse:
    body = f"<!DOCTYPE html><html><body><h1>{html.escape(error)}</h1><p>{html.escape(description)}</p></body></html>"
    return HttpResponse(status, [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")], body.encode())


__all__ = [
    "ISSUER_META",
    "LOGIN_FORM_ID",
    "OAuthError",
    "OidcProvider",
    "ProviderConfig",
    "RegisteredClient",
    "SigningKey",
    "TestUser",
    "pkce_challenge",
]
