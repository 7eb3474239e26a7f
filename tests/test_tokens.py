"""drimva.tokens: PSC access tokens verified against a JWKS, with no network."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from drimva.tokens import bearer_token, verify_access_token

ISSUER = "https://127.0.0.1:8443/auth/realms/esante-wallet"
NOW = 1_750_000_000.0


def _key(kid: str) -> tuple[rsa.RSAPrivateKey, dict]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**json.loads(RSAAlgorithm.to_jwk(private.public_key())), "kid": kid, "use": "sig", "alg": "RS256"}
    return private, jwk


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[rsa.RSAPrivateKey, dict]]:
    return {"good": _key("k1"), "other": _key("k2")}


def _claims(**changes) -> dict:
    claims = {"iss": ISSUER, "sub": "810001234567", "aud": "drimbox", "iat": int(NOW), "exp": int(NOW) + 300, "jti": "j1"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _token(keys, which: str = "good", kid: str | None = None, **changes) -> str:
    private, jwk = keys[which]
    return jwt.encode(_claims(**changes), private, algorithm="RS256", headers={"kid": kid or jwk["kid"]})


def _check(keys, token, **kwargs):
    return verify_access_token(token, {"keys": [keys["good"][1]]}, issuer=ISSUER, audience="drimbox", now=NOW, **kwargs)


def test_a_genuine_token_is_valid_and_its_claims_returned(keys) -> None:
    result = _check(keys, _token(keys))
    assert result.valid and result and result.problem == ""
    assert result.claims["sub"] == "810001234567" and result.claims["iss"] == ISSUER


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda k: None, "no access token"),
        (lambda k: "", "no access token"),
        (lambda k: "not.a.jwt", "not a JWT"),
        (lambda k: _token(k, exp=int(NOW) - 1), "expired"),
        (lambda k: _token(k, exp=int(NOW)), "expired"),  # exp is exclusive
        (lambda k: _token(k, nbf=int(NOW) + 120), "not yet valid"),
        (lambda k: _token(k, iss="https://auth.psc.invalid/auth/realms/esante-wallet"), "issuer"),
        (lambda k: _token(k, aud="another-service"), "audience"),
        (lambda k: _token(k, aud=None), "'aud' missing"),
        (lambda k: _token(k, exp=None), "'exp' missing"),
        (lambda k: _token(k, "other"), "key id 'k2'"),  # signed by a key not in the JWKS
        (lambda k: _token(k, "other", kid="k1"), "signature"),  # forged kid
        (lambda k: jwt.encode(_claims(), "s" * 32, algorithm="HS256", headers={"kid": "k1"}), "algorithm 'HS256'"),
        (lambda k: jwt.encode(_claims(), None, algorithm="none"), "algorithm 'none'"),
    ],
)
def test_bad_tokens_are_refused_with_the_reason(keys, make, problem: str) -> None:
    result = _check(keys, make(keys))
    assert not result.valid and not result
    assert problem in result.problem
    assert result.claims == {}


def test_leeway_and_audience_list(keys) -> None:
    token = _token(keys, exp=int(NOW) - 10, aud=["drimbox", "viewer"])
    assert not _check(keys, token).valid
    assert _check(keys, token, leeway_s=30).valid


def test_default_now_is_the_clock(keys) -> None:
    fresh = _token(keys, iat=int(time.time()), exp=int(time.time()) + 60)
    assert verify_access_token(fresh, {"keys": [keys["good"][1]]}, issuer=ISSUER, audience="drimbox").valid
    assert not verify_access_token(_token(keys), {"keys": [keys["good"][1]]}, issuer=ISSUER, audience="drimbox").valid


def test_unusable_jwks_is_a_problem_not_an_exception(keys) -> None:
    result = verify_access_token(_token(keys), {"keys": "nope"}, issuer=ISSUER, audience="drimbox", now=NOW)
    assert not result.valid and "JWKS" in result.problem


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer  tok ", "tok"), ("Basic dXNlcg==", None), ("Bearer ", None), (None, None)],
)
def test_bearer_token(header, token) -> None:
    assert bearer_token(header) == token
