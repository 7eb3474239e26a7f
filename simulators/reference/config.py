"""The reference DRIMbox's configuration file (CONFIG.json) and its validation.

Every key is required except ``dmp.client_cert`` / ``dmp.client_key`` (null or
absent: TLS without a client certificate) and the optional sections of the
cross-DRIMbox roles, each null or absent when the role is not wired:

- ``https``: ``{server_cert, server_key, source_port (0), consumer_port (0)}``,
  the DRIMbox's own TLS server identity and the ports of its source
  (WADO-RS) and consumer (contextual call) servers, both on ``bind_host``;
- ``psc``: ``{issuer, jwks_url, audience ("drimbox")}``, the Pro Santé Connect
  issuer whose access tokens the source accepts (JWKS fetched over HTTPS,
  verified with ``dmp.ca_cert``);
- ``trust``: ``{list_url, anchor, refresh_s (300)}``, where the signed DRIM-M
  trust list is fetched, the CA certificate (PEM) its signer must chain to,
  how often it is fetched again;
- ``dicom_node``: ``{ae_title, host, port[, stow_url, ca_cert]}``, the DICOM node the consumer
  sends retrieved images to (VA-D3);
- ``consumer``: ``{consent_names, contextual_path}``, the consent parameter
  names the contextual call accepts and its path.
- ``viewer``: ``{port (0), psc, franceconnect}``, the viewer entry point
  (HTTPS with ``https.server_cert``) and its OIDC clients, each
  ``{issuer, client_id, client_secret, scope, acr_values}`` (at least one;
  discovery over HTTPS verified with ``dmp.ca_cert``). Defaults: PSC scope
  ``openid scope_all``, acr ``eidas1``; FranceConnect+ scope ``openid
  given_name family_name birthdate gender birthplace birthcountry``, acr
  ``eidas2`` / ``eidas3``;
- ``supervision``: ``{port (0)}``, the supervision endpoint's own HTTPS port.

The viewer and the supervision endpoint run when their section and ``https`` are set.

The source role runs when ``https`` and ``psc`` are both set
(``source_enabled``). Unknown keys and bad values raise ``ConfigError`` whose
message names the key; ``__main__`` turns it into exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the offending key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class PacsConfig(_Strict):
    ae_title: str = Field(min_length=1, max_length=16)
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)


class DmpConfig(_Strict):
    repository_url: str = Field(min_length=1)
    registry_url: str = Field(min_length=1)
    ca_cert: Path
    client_cert: Path | None = None
    client_key: Path | None = None
    signing_cert: Path
    signing_key: Path


class LpsConfig(_Strict):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    homologation: str = Field(min_length=1)


class Timeouts(_Strict):
    dicom_s: float = Field(gt=0)
    http_s: float = Field(gt=0)


class HttpsConfig(_Strict):
    server_cert: Path
    server_key: Path
    source_port: int = Field(default=0, ge=0, le=65535)
    consumer_port: int = Field(default=0, ge=0, le=65535)
    # WADO-RS between DRIMboxes with client certificates: the source requires one the trust anchor
    # issued, the consumer presents the organisation's (dmp.client_cert); a profile option
    mutual_tls: bool = False


class PscConfig(_Strict):
    issuer: str = Field(min_length=1)
    jwks_url: str = Field(pattern=r"^https://")
    audience: str = Field(default="drimbox", min_length=1)


class TrustConfig(_Strict):
    list_url: str = Field(min_length=1)
    anchor: Path
    refresh_s: float = Field(default=300.0, gt=0)


class DicomNodeConfig(_Strict):
    ae_title: str = Field(min_length=1, max_length=16)
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    stow_url: str = ""  # set: the consumer sends over STOW-RS to {stow_url}/studies instead of C-STORE
    ca_cert: Path | None = None  # the CA the STOW-RS server is verified with (STOW-RS only)


# The contextual call's consent parameter: the ANS test server's name and the demonstrator API's
# (trust-list-and-identity.md §7, open question 6); both accepted unless the config narrows it.
DEFAULT_CONSENT_NAMES = ("InformationEtConsentement", "InformationEtOppositionConsultation")


class ConsumerConfig(_Strict):
    consent_names: tuple[str, ...] = Field(default=DEFAULT_CONSENT_NAMES, min_length=1)
    contextual_path: str = Field(default="/drimbox/appel-contextuel", pattern=r"^/")


class OidcClientConfig(_Strict):
    issuer: str = Field(pattern=r"^https://")
    client_id: str = Field(min_length=1)
    client_secret: str = Field(min_length=1)
    scope: str | None = None  # None: the provider's default (PSC_SCOPE / FC_SCOPE)
    acr_values: tuple[str, ...] | None = None  # None: the provider's default (PSC_ACR / FC_ACR)


PSC_SCOPE, PSC_ACR = "openid scope_all", ("eidas1",)
FC_SCOPE, FC_ACR = "openid given_name family_name birthdate gender birthplace birthcountry", ("eidas2", "eidas3")


class ViewerConfig(_Strict):
    port: int = Field(default=0, ge=0, le=65535)
    psc: OidcClientConfig | None = None
    franceconnect: OidcClientConfig | None = None

    @model_validator(mode="after")
    def _one_provider(self) -> ViewerConfig:
        if self.psc is None and self.franceconnect is None:
            raise ValueError("needs 'psc' and/or 'franceconnect'")
        return self


class SupervisionConfig(_Strict):
    port: int = Field(default=0, ge=0, le=65535)


class ReferenceConfig(_Strict):
    bind_host: str = Field(min_length=1)
    mllp_port: int = Field(ge=0, le=65535)
    ae_title: str = Field(min_length=1, max_length=16)
    dicom_port: int = Field(ge=0, le=65535)
    wado_base_url: str = Field(min_length=1)
    retrieve_location_uid: str = Field(pattern=r"^[0-9]+(\.[0-9]+)*$", max_length=64)
    qualified_statuses: tuple[str, ...]
    publish_requires_destdmp: bool
    publish_on_accession_mismatch: bool = True  # False: no KOS when the PACS's AccessionNumber is not the CR's
    pacs: PacsConfig
    dmp: DmpConfig
    lps: LpsConfig
    source_id: str = Field(min_length=1)
    state_dir: Path
    log_file: Path
    timeouts: Timeouts
    https: HttpsConfig | None = None
    psc: PscConfig | None = None
    trust: TrustConfig | None = None
    dicom_node: DicomNodeConfig | None = None
    consumer: ConsumerConfig | None = None
    viewer: ViewerConfig | None = None
    supervision: SupervisionConfig | None = None

    @property
    def source_enabled(self) -> bool:
        """The WADO-RS source role runs (it needs a TLS identity and a token issuer)."""
        return self.https is not None and self.psc is not None


def parse_config(data: Any) -> ReferenceConfig:
    """Validate an already-decoded JSON object."""
    if not isinstance(data, dict):
        raise ConfigError("the configuration must be a JSON object")
    try:
        return ReferenceConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError("; ".join(_describe(err) for err in exc.errors())) from None


def load_config(path: Path) -> ReferenceConfig:
    """Read and validate CONFIG.json."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not JSON: {exc}") from None
    return parse_config(data)


def _describe(err: Any) -> str:
    key = ".".join(str(part) for part in err.get("loc", ()))
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return f"unknown key {key!r}"
    if kind == "missing":
        return f"missing key {key!r}"
    return f"bad value for {key!r}: {err.get('msg', 'invalid')}"
