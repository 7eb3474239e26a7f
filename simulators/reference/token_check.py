"""The WADO-RS source's check of the bearer token a consumer DRIMbox forwards (PSC access token).

A token is accepted when it is a compact JWS signed with RS256 by a key of the
issuer's JWKS (fetched over HTTPS from ``psc.jwks_url``, server certificate
verified with the run's CA, cached by PyJWT's ``PyJWKClient`` and fetched again
when a ``kid`` is unknown), and its ``iss``, ``aud`` and ``exp`` claims are
right (``exp`` required, no leeway by default: source and issuer share a clock
here). ``TokenRejected`` means "answer 401"; ``JwksUnavailable`` means the
source could not obtain the keys (a circumstantial failure, answered 503).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import jwt
from jwt.exceptions import InvalidTokenError, PyJWKClientConnectionError, PyJWKClientError

ALGORITHMS = ("RS256",)
REQUIRED_CLAIMS = ("iss", "aud", "exp")


class TokenRejected(ValueError):
    """The request carries no usable token; the message says why (logged, never sent in full)."""


class JwksUnavailable(RuntimeError):
    """The issuer's JWKS could not be fetched."""


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` value; ``TokenRejected`` when absent."""
    if not authorization:
        raise TokenRejected("no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected(f"Authorization scheme {scheme!r} is not Bearer")
    return token.strip()


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str,
        audience: str,
        ca_cert: Path,
        timeout_s: float,
        cache_s: float = 300.0,
        leeway_s: float = 0.0,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        context = ssl.create_default_context(cafile=str(ca_cert))
        self._jwks = jwt.PyJWKClient(
            jwks_url, cache_jwk_set=True, lifespan=cache_s, timeout=timeout_s, ssl_context=context, cooldown_duration=1.0
        )

    def verify(self, authorization: str | None) -> dict[str, Any]:
        """The verified claims of the request's token; raises ``TokenRejected`` / ``JwksUnavailable``."""
        token = bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except InvalidTokenError as exc:
            raise TokenRejected(f"not a JWT: {exc}") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenRejected(f"algorithm {header.get('alg')!r} is not RS256")
        if unverified.get("iss") != self.issuer:  # before any key lookup: an unknown issuer costs no fetch
            raise TokenRejected(f"issuer {unverified.get('iss')!r} is not {self.issuer!r}")
        key = self._signing_key(header.get("kid"))
        try:
            return jwt.decode(
                token,
                key,
                algorithms=list(ALGORITHMS),
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except InvalidTokenError as exc:
            raise TokenRejected(f"{type(exc).__name__}: {exc}") from None

    def _signing_key(self, kid: str | None) -> Any:
        try:
            if kid is not None:
                return self._jwks.get_signing_key(kid).key
            keys = self._jwks.get_signing_keys()
        except PyJWKClientConnectionError as exc:
            raise JwksUnavailable(f"JWKS not fetched: {exc}") from None
        except PyJWKClientError as exc:
            raise TokenRejected(str(exc)) from None
        if len(keys) != 1:
            raise TokenRejected(f"token without kid and {len(keys)} signing keys in the JWKS")
        return keys[0].key
