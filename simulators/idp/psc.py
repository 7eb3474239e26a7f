"""The Pro Santé Connect simulator: RS256 access tokens, OIDC discovery and JWKS over HTTPS.

Tokens are issued in-process (``issue_token``; the browser login flow is a
later task) with the claims the PSC BAS environment puts in its access
tokens (trust-list-and-identity.md §4). Discovery
(``{issuer}/.well-known/openid-configuration``) and the JWKS
(``{issuer}/protocol/openid-connect/certs``) are served over HTTPS with a
certificate of the run's CA; every request and response goes to the
evidence sink (channel ``psc``) before it is answered.

``foreign_token`` signs with a second key that is not in the JWKS (by
default under a foreign issuer): the "token from an unknown issuer" case.
``RemoteJwks`` fetches a JWKS over HTTPS and caches it, and
``RemoteJwks.checker`` gives the ``token -> TokenCheck`` callable a WADO-RS
source needs.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from drimva.context import Professional
from drimva.evidence import EvidenceSink
from drimva.tokens import TokenCheck, verify_access_token
from simulators.common.https import HttpRequest, HttpResponse, HttpsServer, decoded_view

CHANNEL = "psc"
DEFAULT_ISSUER_PATH = "/auth/realms/esante-wallet"
DEFAULT_AUDIENCE = "drimbox"
FOREIGN_ISSUER = "https://auth.psc.invalid/auth/realms/esante-wallet"
SCOPE = "openid scope_all"
ACR = "eidas1"
DEFAULT_CODE_PROFESSION = "10"  # médecin (TRE_G15-ProfessionSante)


class _SigningKey:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        self.kid = _thumbprint(jwk)
        self.jwk = {**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256", headers={"kid": self.kid, "typ": "JWT"})


def _thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint (base64url) of an RSA JWK."""
    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


class PscSimulator:
    """``with PscSimulator(evidence, cert, key) as psc: token = psc.issue_token(professional)``"""

    def __init__(
        self,
        evidence: EvidenceSink,
        cert: Path,
        key: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        issuer_path: str = DEFAULT_ISSUER_PATH,
        audience: str = DEFAULT_AUDIENCE,
        timeout: float = 10.0,
    ) -> None:
        self.evidence = evidence
        self.issuer_path = "/" + issuer_path.strip("/")
        self.audience = audience
        self._key = _SigningKey()
        self._foreign_key = _SigningKey()
        self._lock = threading.Lock()
        self._requests = 0
        self._server = HttpsServer(self._handle, cert, key, None, host=host, port=port, client_auth="none", timeout=timeout)

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> "PscSimulator":
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> "PscSimulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.port

    @property
    def issuer(self) -> str:
        return f"{self._server.base_url}{self.issuer_path}"

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/certs"

    @property
    def requests_served(self) -> int:
        with self._lock:
            return self._requests

    # -- tokens -----------------------------------------------------------------------
    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(self._key.jwk)]}

    def claims_for(
        self,
        professional: Professional,
        *,
        issuer: str,
        audience: str,
        lifetime_s: int = 300,
        expired: bool = False,
        code_profession: str = DEFAULT_CODE_PROFESSION,
    ) -> dict[str, Any]:
        now = int(time.time())
        issued = now - lifetime_s - 60 if expired else now
        return {
            "iss": issuer,
            "sub": professional.national_id,
            "aud": audience,
            "exp": issued + lifetime_s,
            "iat": issued,
            "jti": str(uuid.uuid4()),
            "typ": "Bearer",
            "acr": ACR,
            "scope": SCOPE,
            "preferred_username": professional.national_id,
            "family_name": professional.family,
            "given_name": professional.given,
            "SubjectNameID": professional.national_id,
            "codeProfession": code_profession,
        }

    def issue_token(
        self,
        professional: Professional,
        *,
        audience: str | None = None,
        lifetime_s: int = 300,
        issuer: str | None = None,
        expired: bool = False,
        code_profession: str = DEFAULT_CODE_PROFESSION,
    ) -> str:
        """An RS256 access token signed by the key published in the JWKS (the server must be started)."""
        claims = self.claims_for(
            professional,
            issuer=issuer or self.issuer,
            audience=audience or self.audience,
            lifetime_s=lifetime_s,
            expired=expired,
            code_profession=code_profession,
        )
        return self._key.sign(claims)

    def foreign_token(
        self,
        professional: Professional,
        *,
        audience: str | None = None,
        lifetime_s: int = 300,
        issuer: str = FOREIGN_ISSUER,
    ) -> str:
        """A well-formed token signed by a key that is NOT in the JWKS (pass ``issuer=psc.issuer`` to forge ours)."""
        claims = self.claims_for(professional, issuer=issuer, audience=audience or self.audience, lifetime_s=lifetime_s)
        return self._foreign_key.sign(claims)

    def verify(self, token: str | None, *, audience: str | None = None) -> TokenCheck:
        """In-process check of a token against this simulator's own JWKS (unit tests, steps)."""
        return verify_access_token(token, self.jwks(), issuer=self.issuer, audience=audience or self.audience)

    # -- HTTP ---------------------------------------------------------------------------
    def _discovery(self) -> dict[str, Any]:
        base = f"{self.issuer}/protocol/openid-connect"
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{base}/auth",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "introspection_endpoint": f"{base}/token/introspect",
            "end_session_endpoint": f"{base}/logout",
            "jwks_uri": self.jwks_url,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "scope_all"],
            "acr_values_supported": [ACR],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "tls_client_auth"],
        }

    def _handle(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            index = self._requests
            self._requests += 1
        meta = {"request": index, "path": request.path, "client": f"{request.client_address[0]}:{request.client_address[1]}"}
        self.evidence.record(
            CHANNEL,
            f"request-{index}",
            request.raw(),
            decoded_view(f"{request.method} {request.target} {request.version}", request.headers, request.body),
            meta,
            "http",
        )
        response = self._route(request)
        self.evidence.record(
            CHANNEL,
            f"response-{index}-{response.status}",
            response.raw(),
            decoded_view(f"HTTP/1.1 {response.status}", response.headers, response.body),
            {**meta, "status": response.status},
            "http",
        )
        return response

    def _route(self, request: HttpRequest) -> HttpResponse:
        routes = {
            f"{self.issuer_path}/.well-known/openid-configuration": self._discovery,
            f"{self.issuer_path}/protocol/openid-connect/certs": self.jwks,
        }
        produce = routes.get(request.path.rstrip("/"))
        if produce is None:
            return _json(404, {"error": "not_found", "error_description": f"no resource at {request.path}"})
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(405, [("Allow", "GET, HEAD"), ("Content-Type", "text/plain")], b"method not allowed")
        return _json(200, produce())


def _json(status: int, data: dict[str, Any]) -> HttpResponse:
    body = json.dumps(data, indent=2).encode("utf-8")
    return HttpResponse(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body)


class RemoteJwks:
    """A JWKS fetched over HTTPS (server verified with ``ca_cert``) and cached for ``ttl_s`` seconds.

    A key id not in the cached set triggers one refresh (key rotation), at most
    every ``min_refresh_s`` seconds.
    """

    def __init__(self, url: str, ca_cert: Path, *, timeout: float = 5.0, ttl_s: float = 300.0, min_refresh_s: float = 5.0) -> None:
        self.url, self.timeout, self.ttl_s, self.min_refresh_s = url, timeout, ttl_s, min_refresh_s
        self._context = ssl.create_default_context(cafile=str(ca_cert))
        self._lock = threading.Lock()
        self._jwks: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self.fetches = 0

    def get(self, *, refresh: bool = False) -> dict[str, Any]:
        """The JWKS; raises ``httpx.HTTPError`` / ``ValueError`` when it cannot be fetched."""
        with self._lock:
            age = time.monotonic() - self._fetched_at
            stale = self._jwks is None or age > self.ttl_s or (refresh and age > self.min_refresh_s)
            if stale:
                with httpx.Client(verify=self._context, timeout=self.timeout) as client:
                    response = client.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                data = response.json()
                if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
                    raise ValueError(f"{self.url} is not a JWKS document")
                self._jwks, self._fetched_at = data, time.monotonic()
                self.fetches += 1
            assert self._jwks is not None
            return self._jwks

    def checker(self, *, issuer: str, audience: str = DEFAULT_AUDIENCE) -> Callable[[str | None], TokenCheck]:
        """``token -> TokenCheck`` against this JWKS; an unreachable JWKS refuses the token (and says why)."""

        def check(token: str | None) -> TokenCheck:
            try:
                result = verify_access_token(token, self.get(), issuer=issuer, audience=audience)
                if not result.valid and "key id" in result.problem:
                    result = verify_access_token(token, self.get(refresh=True), issuer=issuer, audience=audience)
            except (httpx.HTTPError, ValueError) as exc:
                return TokenCheck(False, problem=f"JWKS {self.url} unavailable: {exc}")
            return result

        return check


__all__ = ["FOREIGN_ISSUER", "PscSimulator", "RemoteJwks"]
