"""The Pro Santé Connect simulator: a full OIDC provider (``simulators.idp.oidc``) plus token shortcuts.

The browser flow (authorization code + PKCE, login page listing the test
professionals, token / userinfo / introspection endpoints) is the shared
``OidcProvider`` configured like the PSC BAS environment
(trust-list-and-identity.md §4): Keycloak paths under
``/auth/realms/esante-wallet/protocol/openid-connect/``, ``acr`` ``eidas1``,
scope ``openid scope_all``, claims ``SubjectNameID`` (8 + RPPS),
``given_name``, ``family_name``, ``preferred_username``, ``codeProfession`` /
``codeSavoirFaire`` (and, in userinfo, the ``SubjectRefPro.exercices``
structure the demonstrator reads). Every request and response goes to the
evidence sink (channel ``psc``) before it is answered.

Tokens can also be issued in-process (``issue_token``) with the claims PSC
puts in its access tokens, for the VA-D/E steps. ``foreign_token`` signs with
a second key that is not in the JWKS (by default under a foreign issuer): the
"token from an unknown issuer" case. ``RemoteJwks`` fetches a JWKS over HTTPS
and caches it, and ``RemoteJwks.checker`` gives the ``token -> TokenCheck``
callable a WADO-RS source needs.
"""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import httpx

from drimva.context import Professional
from drimva.evidence import EvidenceSink
from drimva.tokens import TokenCheck, verify_access_token
from simulators.idp.oidc import OidcProvider, ProviderConfig, SigningKey, TestUser

CHANNEL = "psc"
DEFAULT_ISSUER_PATH = "/auth/realms/esante-wallet"
DEFAULT_AUDIENCE = "drimbox"
FOREIGN_ISSUER = "https://auth.psc.invalid/auth/realms/esante-wallet"
SCOPE = "openid scope_all"
ACR = "eidas1"
DEFAULT_CODE_PROFESSION = "10"  # médecin (TRE_G15-ProfessionSante)


def psc_config(issuer_path: str = DEFAULT_ISSUER_PATH) -> ProviderConfig:
    issuer_path = "/" + issuer_path.strip("/")
    base = f"{issuer_path}/protocol/openid-connect"
    return ProviderConfig(
        channel=CHANNEL,
        name="Pro Santé Connect",
        issuer_path=issuer_path,
        authorization_path=f"{base}/auth",
        token_path=f"{base}/token",
        userinfo_path=f"{base}/userinfo",
        jwks_path=f"{base}/certs",
        login_path=f"{issuer_path}/login-actions/authenticate",
        introspection_path=f"{base}/token/introspect",
        acr=ACR,
        scopes_supported=("openid", "scope_all"),
        required_scopes=("openid",),
        scope_claims=None,  # scope_all: every claim
    )


def professional_claims(
    professional: Professional, *, code_profession: str = DEFAULT_CODE_PROFESSION, code_savoir_faire: str = ""
) -> dict[str, Any]:
    """The PSC claims of a professional (``sub`` = ``SubjectNameID`` = 8 + RPPS)."""
    claims: dict[str, Any] = {
        "sub": professional.national_id,
        "preferred_username": professional.national_id,
        "family_name": professional.family,
        "given_name": professional.given,
        "SubjectNameID": professional.national_id,
        "codeProfession": code_profession,
    }
    if code_savoir_faire:
        claims["codeSavoirFaire"] = code_savoir_faire
    return claims


class PscSimulator(OidcProvider):
    """``with PscSimulator(evidence, cert, key) as psc: token = psc.issue_token(professional)``

    Browser flow: ``psc.register_client(id, secret, [redirect_uri])``,
    ``psc.add_professional(professional)``; the login form submits
    ``user=<8+RPPS>``.
    """

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
        super().__init__(
            psc_config(issuer_path), evidence, cert, key, host=host, port=port, timeout=timeout,
            access_token_audience=audience,
        )
        self.issuer_path = self.config.issuer_path
        self.audience = audience
        self._foreign_key = SigningKey()

    def start(self) -> "PscSimulator":
        super().start()
        return self

    def __enter__(self) -> "PscSimulator":
        return self.start()

    # -- test users ---------------------------------------------------------------------
    def add_professional(
        self,
        professional: Professional,
        *,
        key: str | None = None,
        code_profession: str = DEFAULT_CODE_PROFESSION,
        code_savoir_faire: str = "",
    ) -> TestUser:
        """A professional who can log in; the login form's ``user`` value is ``key`` (default: 8 + RPPS)."""
        claims = professional_claims(professional, code_profession=code_profession, code_savoir_faire=code_savoir_faire)
        label = f"{professional.given} {professional.family} ({professional.national_id})"
        return self.add_user(key or professional.national_id, claims, label)

    def userinfo_claims(self, claims: dict[str, Any]) -> dict[str, Any]:
        """PSC userinfo also nests the practice in ``SubjectRefPro.exercices`` (the demonstrator reads it)."""
        if "codeProfession" not in claims:
            return claims
        exercice = {
            "codeProfession": claims["codeProfession"],
            "codeSavoirFaire": claims.get("codeSavoirFaire", ""),
            "prenomDexercice": claims.get("given_name", ""),
            "nomDexercice": claims.get("family_name", ""),
            "activities": [],
        }
        return {**claims, "SubjectRefPro": {"exercices": [exercice]}}

    # -- tokens -----------------------------------------------------------------------
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
            **professional_claims(professional, code_profession=code_profession),
            "iss": issuer,
            "aud": audience,
            "exp": issued + lifetime_s,
            "iat": issued,
            "jti": str(uuid.uuid4()),
            "typ": "Bearer",
            "acr": ACR,
            "scope": SCOPE,
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
        return self.sign(claims)

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
        return super().verify(token, audience=audience or self.audience)


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


__all__ = ["FOREIGN_ISSUER", "PscSimulator", "RemoteJwks", "professional_claims", "psc_config"]
