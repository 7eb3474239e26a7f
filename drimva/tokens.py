"""Bearer access tokens (Pro Santé Connect JWT) checked against a JWKS document. Pure: no network.

A DRIMbox source verifies the PSC access token a consumer forwards
(``Authorization: Bearer``, dicomweb-between-drimboxes.md §2, §4): RS256
signature by a key of the issuer's JWKS (``kid`` match), ``iss``, ``aud``,
``exp`` (and ``nbf`` / ``iat`` when present). The JWKS is fetched by the
caller (over HTTPS, cached); this module only reads the dict. Built on PyJWT.
``now`` is a parameter so the decision is reproducible (PyJWT's own time
checks are disabled and done here).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import jwt
from jwt.exceptions import InvalidTokenError, PyJWKError, PyJWKSetError

DEFAULT_ALGORITHMS: tuple[str, ...] = ("RS256",)
REQUIRED_CLAIMS: tuple[str, ...] = ("iss", "aud", "exp", "sub")


@dataclass(frozen=True)
class TokenCheck:
    """The verdict on one token: ``claims`` are the verified claims (empty unless valid)."""

    valid: bool
    claims: dict[str, Any] = field(default_factory=dict)
    problem: str = ""  # why the token is refused, "" when valid

    def __bool__(self) -> bool:
        return self.valid


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value, None when absent or another scheme."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def verify_access_token(
    token: str | None,
    jwks: Mapping[str, Any],
    *,
    issuer: str,
    audience: str | Sequence[str],
    now: float | None = None,
    leeway_s: float = 0.0,
    algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
) -> TokenCheck:
    """Verify ``token`` (compact JWS) against the keys of ``jwks``; never raises."""
    if not token:
        return TokenCheck(False, problem="no access token")
    try:
        header = jwt.get_unverified_header(token)
    except InvalidTokenError as exc:
        return TokenCheck(False, problem=f"not a JWT: {exc}")
    alg = header.get("alg")
    if alg not in algorithms:
        return TokenCheck(False, problem=f"algorithm {alg!r} not accepted (expected {', '.join(algorithms)})")
    try:
        key_set = jwt.PyJWKSet.from_dict(dict(jwks))
    except (PyJWKSetError, PyJWKError) as exc:
        return TokenCheck(False, problem=f"JWKS not usable: {exc}")
    kid = header.get("kid")
    candidates = [k for k in key_set.keys if kid is None or k.key_id == kid]
    if not candidates:
        return TokenCheck(False, problem=f"key id {kid!r} is not in the issuer's JWKS")
    claims: dict[str, Any] | None = None
    last_error = ""
    for key in candidates:
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=list(algorithms),
                audience=audience,
                issuer=issuer,
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False, "require": list(REQUIRED_CLAIMS)},
            )
            break
        except jwt.InvalidSignatureError:
            last_error = "signature does not verify with the issuer's key"
        except jwt.InvalidIssuerError:
            return TokenCheck(False, problem=f"issuer {_unverified(token).get('iss')!r} is not {issuer!r}")
        except jwt.InvalidAudienceError:
            return TokenCheck(False, problem=f"audience {_unverified(token).get('aud')!r} does not include {audience!r}")
        except jwt.MissingRequiredClaimError as exc:
            return TokenCheck(False, problem=f"claim {exc.claim!r} missing")
        except InvalidTokenError as exc:
            return TokenCheck(False, problem=f"token refused: {exc}")
    if claims is None:
        return TokenCheck(False, problem=last_error or "signature does not verify")
    moment = time.time() if now is None else now
    problem = _time_problem(claims, moment, leeway_s)
    if problem:
        return TokenCheck(False, problem=problem)
    return TokenCheck(True, claims)


def _time_problem(claims: Mapping[str, Any], now: float, leeway: float) -> str:
    values: dict[str, float] = {}
    for name in ("exp", "nbf", "iat"):
        if name in claims:
            try:
                values[name] = float(claims[name])
            except (TypeError, ValueError):
                return f"claim {name!r} is not a number: {claims[name]!r}"
    if values["exp"] <= now - leeway:
        return f"token expired {int(now - values['exp'])} s ago"
    if "nbf" in values and values["nbf"] > now + leeway:
        return "token not yet valid (nbf in the future)"
    if "iat" in values and values["iat"] > now + leeway + 60:
        return "token issued in the future (iat)"
    return ""


def _unverified(token: str) -> dict[str, Any]:
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except InvalidTokenError:
        return {}


__all__ = ["TokenCheck", "bearer_token", "verify_access_token"]
