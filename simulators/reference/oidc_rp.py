"""The reference DRIMbox's OpenID Connect relying party (viewer login: Pro Santé Connect, FranceConnect+).

Standard OIDC only, so it works with any conformant provider:

- discovery: ``{issuer}/.well-known/openid-configuration`` over HTTPS (server
  certificate verified with the run's CA), fetched on first use and kept;
  its ``issuer`` must equal the configured one;
- authorization-code flow with PKCE ``S256``, a random ``state`` and
  ``nonce`` per login, ``scope`` and ``acr_values`` from the configuration;
- code exchange at ``token_endpoint`` with ``client_secret_post``;
- the ``id_token`` verified against the provider's JWKS (``token_check``):
  RS256, ``iss`` = configured issuer, ``aud`` = client id, ``exp``, then
  ``nonce`` = the login's and ``acr`` among the accepted values;
- ``userinfo``: fetched with the access token when identity claims are
  missing from the id_token (JSON, or a JWS verified like the id_token).

With ``accept_any_issuer`` (fault ``viewer_accept_any_issuer``) the id_token's
signature and issuer are not checked (``aud``, ``exp``, ``nonce`` still are).
``LoginRefused`` means "answer 401"; ``ProviderUnavailable`` "answer 503".
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from jwt.exceptions import InvalidTokenError

from .token_check import JwksUnavailable, TokenRejected, TokenVerifier

DISCOVERY_PATH = "/.well-known/openid-configuration"


class LoginRefused(ValueError):
    """The provider's answer cannot log the user in (bad token, wrong issuer, nonce, acr...)."""


class ProviderUnavailable(RuntimeError):
    """The provider could not be reached or answered nonsense (discovery, token endpoint, JWKS)."""


@dataclass(frozen=True)
class PendingLogin:
    """What the viewer keeps between the redirect to the provider and the callback."""

    provider: str  # "psc" / "fc"
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    return_to: str  # path + query of the viewer URL to go back to
    expires_at: float


@dataclass(frozen=True)
class LoginResult:
    provider: str
    claims: dict[str, Any]  # id_token claims, completed by userinfo
    acr: str


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(ASCII(verifier))) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class OidcRelyingParty:
    def __init__(
        self,
        *,
        name: str,
        issuer: str,
        client_id: str,
        client_secret: str,
        scope: str,
        acr_values: tuple[str, ...],
        ca_cert: Path,
        timeout_s: float,
        identity_claims: tuple[str, ...] = (),
        accept_any_issuer: bool = False,
        login_ttl_s: float = 600.0,
    ) -> None:
        self.name = name
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.scope = scope
        self.acr_values = acr_values
        self.ca_cert = ca_cert
        self.timeout_s = timeout_s
        self.identity_claims = identity_claims
        self.accept_any_issuer = accept_any_issuer
        self.login_ttl_s = login_ttl_s
        self._ssl = ssl.create_default_context(cafile=str(ca_cert))
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._verifier: TokenVerifier | None = None

    # -- discovery ---------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            if self._metadata is None:
                url = self.issuer + DISCOVERY_PATH
                data = self._get_json(url)
                for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(data.get(key), str) or not data[key]:
                        raise ProviderUnavailable(f"discovery document {url} has no {key!r}")
                if data["issuer"].rstrip("/") != self.issuer:
                    raise ProviderUnavailable(f"discovery issuer {data['issuer']!r} is not {self.issuer!r}")
                self._metadata = data
                self._verifier = TokenVerifier(
                    issuer=data["issuer"],
                    jwks_url=data["jwks_uri"],
                    audience=self.client_id,
                    ca_cert=self.ca_cert,
                    timeout_s=self.timeout_s,
                )
            return self._metadata

    # -- the flow ----------------------------------------------------------------------------

    def start_login(self, redirect_uri: str, return_to: str) -> tuple[str, PendingLogin]:
        """(the authorization URL to redirect the browser to, what to keep until the callback)."""
        endpoint = self.metadata()["authorization_endpoint"]
        pending = PendingLogin(
            provider=self.name,
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            code_verifier=secrets.token_urlsafe(48),
            redirect_uri=redirect_uri,
            return_to=return_to,
            expires_at=time.time() + self.login_ttl_s,
        )
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.scope,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pkce_challenge(pending.code_verifier),
            "code_challenge_method": "S256",
        }
        if self.acr_values:
            params["acr_values"] = " ".join(self.acr_values)
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(params)}", pending

    def finish_login(self, code: str, pending: PendingLogin) -> LoginResult:
        """Exchange the code, verify the id_token, complete the identity from userinfo."""
        metadata = self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": pending.redirect_uri,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "code_verifier": pending.code_verifier,
        }
        answer = self._post_form(metadata["token_endpoint"], form)
        id_token = answer.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise LoginRefused("the token endpoint returned no id_token")
        claims = self.verify_id_token(id_token, pending.nonce)
        acr = str(claims.get("acr", ""))
        if self.acr_values and acr not in self.acr_values:
            raise LoginRefused(f"acr {acr!r} is not one of {list(self.acr_values)}")
        access_token = answer.get("access_token")
        missing = [name for name in self.identity_claims if not claims.get(name)]
        if missing and isinstance(access_token, str) and metadata.get("userinfo_endpoint"):
            info = self._userinfo(metadata["userinfo_endpoint"], access_token)
            if info.get("sub") not in (None, claims.get("sub")):
                raise LoginRefused("userinfo sub differs from the id_token sub")
            claims = {**info, **{k: v for k, v in claims.items() if v not in (None, "")}}
        return LoginResult(provider=self.name, claims=claims, acr=acr)

    def verify_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        if self.accept_any_issuer:
            claims = self._unverified(id_token)
        else:
            self.metadata()
            assert self._verifier is not None
            try:
                claims = self._verifier.verify(f"Bearer {id_token}")
            except TokenRejected as exc:
                raise LoginRefused(f"id_token refused: {exc}") from None
            except JwksUnavailable as exc:
                raise ProviderUnavailable(str(exc)) from None
        if claims.get("nonce") != nonce:
            raise LoginRefused("id_token nonce is not the one sent")
        return claims

    def _unverified(self, id_token: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                id_token,
                options={"verify_signature": False, "verify_aud": True, "verify_exp": True, "require": ["aud", "exp"]},
                audience=self.client_id,
                algorithms=["RS256"],
            )
        except InvalidTokenError as exc:
            raise LoginRefused(f"id_token refused: {type(exc).__name__}: {exc}") from None

    def _userinfo(self, url: str, access_token: str) -> dict[str, Any]:
        try:
            with httpx.Client(verify=self._ssl, timeout=self.timeout_s) as client:
                response = client.get(url, headers={"Authorization": f"Bearer {access_token}"})
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"userinfo {url}: {exc}") from None
        if response.status_code != 200:
            raise LoginRefused(f"userinfo answered {response.status_code}")
        if response.headers.get("content-type", "").split(";")[0].strip() == "application/jwt":
            try:
                assert self._verifier is not None
                data: Any = self._verifier.verify(f"Bearer {response.text.strip()}")
            except TokenRejected as exc:
                raise LoginRefused(f"userinfo JWT refused: {exc}") from None
        else:
            data = _json(response, url)
        if not isinstance(data, dict):
            raise LoginRefused("userinfo is not a JSON object")
        return data

    # -- HTTP --------------------------------------------------------------------------------

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            with httpx.Client(verify=self._ssl, timeout=self.timeout_s) as client:
                response = client.get(url)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{url}: {exc}") from None
        if response.status_code != 200:
            raise ProviderUnavailable(f"{url} answered {response.status_code}")
        data = _json(response, url)
        if not isinstance(data, dict):
            raise ProviderUnavailable(f"{url} is not a JSON object")
        return data

    def _post_form(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        try:
            with httpx.Client(verify=self._ssl, timeout=self.timeout_s) as client:
                response = client.post(url, data=form, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"token endpoint {url}: {exc}") from None
        if response.status_code != 200:
            raise LoginRefused(f"token endpoint answered {response.status_code}: {response.text[:200]}")
        data = _json(response, url)
        if not isinstance(data, dict):
            raise LoginRefused("token endpoint answer is not a JSON object")
        return data


def _json(response: httpx.Response, url: str) -> Any:
    try:
        return json.loads(response.content)
    except ValueError:
        raise ProviderUnavailable(f"{url} did not answer JSON") from None
