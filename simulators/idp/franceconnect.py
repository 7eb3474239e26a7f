"""The FranceConnect+ simulator: the shared OIDC provider configured like FranceConnect+ (patients, VA-C1).

trust-list-and-identity.md §5: an OpenID Connect federation at eIDAS
"substantial" level (``acr`` ``eidas2``) returning the identity "pivot".
Paths follow the FranceConnect v2 API (``/api/v2/authorize``, ``/token``,
``/userinfo``, ``/jwks``; issuer ``{base}/api/v2``). Claims are released per
scope, as FranceConnect does: ``given_name`` (first given name),
``family_name`` (birth name), ``birthdate`` (YYYY-MM-DD), ``gender``
(``female`` / ``male``), ``birthplace`` (INSEE code), ``birthcountry``
(``99100`` for France); ``sub`` is opaque and different for every client
(pairwise). Evidence channel ``franceconnect``.

Not simulated (UNVERIFIED in the reference, left out on purpose): signed or
encrypted userinfo / ID token (JWE), ``amr``, the identity-provider choice
page of the real federation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drimva.context import Patient
from drimva.evidence import EvidenceSink
from simulators.idp.oidc import OidcProvider, ProviderConfig, TestUser

CHANNEL = "franceconnect"
ISSUER_PATH = "/api/v2"
ACR = "eidas2"
FRANCE_COG = "99100"  # INSEE code of France as birth country
PIVOT_SCOPES: tuple[str, ...] = ("given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry")
SCOPE = "openid " + " ".join(PIVOT_SCOPES)
_GENDERS = {"F": "female", "M": "male"}


def franceconnect_config(issuer_path: str = ISSUER_PATH) -> ProviderConfig:
    issuer_path = "/" + issuer_path.strip("/")
    return ProviderConfig(
        channel=CHANNEL,
        name="FranceConnect+",
        issuer_path=issuer_path,
        authorization_path=f"{issuer_path}/authorize",
        token_path=f"{issuer_path}/token",
        userinfo_path=f"{issuer_path}/userinfo",
        jwks_path=f"{issuer_path}/jwks",
        login_path=f"{issuer_path}/login",
        acr=ACR,
        scopes_supported=("openid", *PIVOT_SCOPES),
        required_scopes=("openid",),
        scope_claims={scope: (scope,) for scope in PIVOT_SCOPES},
        pairwise_subjects=True,
    )


def pivot_identity(patient: Patient) -> dict[str, Any]:
    """The FranceConnect pivot identity of a patient's INS traits (birth date YYYYMMDD -> YYYY-MM-DD)."""
    date = patient.birth_date
    birthdate = f"{date[:4]}-{date[4:6]}-{date[6:8]}" if len(date) == 8 and date.isdigit() else date
    claims: dict[str, Any] = {
        "given_name": patient.given_name.split(" ")[0] if patient.given_name else "",
        "family_name": patient.birth_name,
        "birthdate": birthdate,
        "gender": _GENDERS.get(patient.sex.upper(), ""),
        "birthplace": patient.birth_place,
        "birthcountry": FRANCE_COG,
    }
    return {k: v for k, v in claims.items() if v}


class FranceConnectSimulator(OidcProvider):
    """``with FranceConnectSimulator(evidence, cert, key) as fc: fc.add_patient(patient)``

    ``fc.register_client(id, secret, [redirect_uri])``; the login form submits
    ``user=<INS>`` by default.
    """

    def __init__(
        self,
        evidence: EvidenceSink,
        cert: Path,
        key: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        issuer_path: str = ISSUER_PATH,
        timeout: float = 10.0,
    ) -> None:
        super().__init__(franceconnect_config(issuer_path), evidence, cert, key, host=host, port=port, timeout=timeout)

    def start(self) -> "FranceConnectSimulator":
        super().start()
        return self

    def __enter__(self) -> "FranceConnectSimulator":
        return self.start()

    def add_patient(self, patient: Patient, *, key: str | None = None) -> TestUser:
        """A patient who can log in with the pivot identity of its INS traits (``user`` value: ``key`` or the INS)."""
        label = f"{patient.given_name} {patient.birth_name} ({patient.birth_date})"
        return self.add_user(key or patient.ins, pivot_identity(patient), label)


__all__ = ["ACR", "SCOPE", "FranceConnectSimulator", "franceconnect_config", "pivot_identity"]
