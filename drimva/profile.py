"""The SUT profile: one TOML file describing the system under test.

It says what the SUT claims, where it listens, where the harness's simulators
listen, and the timeouts and rule settings. It is the only file a user edits.
Unknown keys and bad values are reported with the dotted key that is wrong,
never with a traceback (:class:`ProfileError`).

Where the public sources disagree (``shared/reference/where-sources-disagree.md``)
the reading is a setting here, with the documented default.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from drimva.context import RuleOptions

EMBEDDED_PROFILE = "reference.toml"
EMBEDDED_RIS_PROFILE = "ris-reference.toml"
CONSENT_PARAMETERS = ("InformationEtConsentement", "InformationEtOppositionConsultation")

DEFAULT_VIEWER_TEMPLATE = (
    "https://{host}/IHEInvokeImageDisplay?requestType=STUDY&studyUID={study_uid}"
    "&Accessionnumber={accession_root}.{accession}&idCDA={cda_id}"
)


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hl7Endpoint(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=2575, ge=0, le=65535)
    transport: Literal["mllp"] = "mllp"
    receiving_application: str = "DRIMBOX"
    receiving_facility: str = "DB_FAC"


class DicomNode(_Section):
    ae_title: str = Field(default="DRIMBOX", min_length=1, max_length=16)
    host: str = "127.0.0.1"
    port: int = Field(default=11113, ge=0, le=65535)


class WadoEndpoint(_Section):
    base_url: str = "https://127.0.0.1/drimbox/wado-rs"
    retrieve_location_uid: str = ""  # expected value of (0040,E011), when the SUT documents one

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an absolute http(s) URL")
        return value


class ConsumerEndpoint(_Section):
    """The consumer role of the SUT: where the contextual call is posted (``sut.roles`` has "consumer")."""

    contextual_url: str = "https://127.0.0.1:8444/drimbox/appel-contextuel"
    consent_parameter: str = "InformationEtOppositionConsultation"  # where-sources-disagree.md
    # how it sends the retrieved images to the DICOM node (VA-D3): the VA says a DICOM node (C-STORE),
    # the demonstrator stores over STOW-RS (where-sources-disagree.md); the node accepts both
    node_transport: Literal["c-store", "stow-rs"] = "c-store"


class SupervisionEndpoint(_Section):
    """How the ANS supervision tool reaches the SUT (VA-F; the protocol is not public: va-checklist.md)."""

    url: str = "https://127.0.0.1:8449/supervision"
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: int = Field(default=200, ge=100, le=599)
    expect_json_status: str = "UP"  # value of the JSON "status" field; empty: any JSON body
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    probes: int = Field(default=5, ge=1, le=1000)  # probes of the VA-F scenario, every interval_s
    interval_s: float = Field(default=0.2, ge=0, le=3600)
    monitor_interval_s: float = Field(default=1.0, ge=0, le=3600)  # background probes for the whole run; 0: none


class TrustEntry(_Section):
    """How the SUT appears in the DRIM-M trust list the harness publishes (VA-A)."""

    db: str = ""  # its `db` address; empty: the host of sut.wado.base_url
    dn: str = ""  # DNCertificatOperateur; empty: the subject of the certificate the harness issued (embedded SUT)
    # WADO-RS between DRIMboxes also authenticates the client by its certificate (the organisation's
    # TLS client certificate): a profile option, the demonstrator has none (where-sources-disagree.md)
    mutual_tls: bool = False


class RisSut(_Section):
    """What a RIS under test (``sut.kind = "ris"``) is expected to send (``drimva ris``)."""

    sending_application: str = ""  # expected MSH-3 of the RIS's messages ("" = not checked)
    sending_facility: str = ""  # expected MSH-4 ("" = not checked)
    report_count: int = Field(default=4, ge=1, le=1000)  # the session ends after this many messages / calls
    session_duration_s: float = Field(default=600.0, gt=0, le=86400)  # ... or after this long
    # Name of the consent parameter of the contextual call; "" accepts either name
    # (where-sources-disagree.md: InformationEtConsentement vs InformationEtOppositionConsultation).
    consent_parameter: Literal["", "InformationEtConsentement", "InformationEtOppositionConsultation"] = ""
    contextual_call: bool = True  # false: the RIS does not claim the contextual call (not_applicable)


class Sut(_Section):
    name: str = "DRIMbox"
    kind: Literal["drimbox", "ris"] = "drimbox"
    # "reference": the harness starts its reference DRIMbox; "ris-simulator": its RIS simulator (kind "ris")
    embedded: Literal["", "reference", "ris-simulator"] = ""
    roles: tuple[Literal["source", "consumer"], ...] = ("source",)
    ris_vague2: bool = True
    ris_notification_date: str = ""  # date the client notified the RIS update (deferred items)
    hl7: Hl7Endpoint = Hl7Endpoint()
    dicom: DicomNode = DicomNode()
    wado: WadoEndpoint = WadoEndpoint()
    consumer: ConsumerEndpoint = ConsumerEndpoint()
    supervision: SupervisionEndpoint = SupervisionEndpoint()
    trust: TrustEntry = TrustEntry()
    ris: RisSut = RisSut()

    @model_validator(mode="after")
    def _embedded_matches_kind(self) -> "Sut":
        expected = {"reference": "drimbox", "ris-simulator": "ris"}.get(self.embedded)
        if expected is not None and self.kind != expected:
            raise ValueError(f"embedded = {self.embedded!r} needs kind = {expected!r}")
        return self


class RisSettings(_Section):
    sending_application: str = "DRIMVA_RIS"
    sending_facility: str = "DRIMVA_FAC"


class PacsSettings(_Section):
    ae_title: str = Field(default="DRIMVA_PACS", min_length=1, max_length=16)
    port: int = Field(default=11112, ge=0, le=65535)
    minimal_keys: bool = False  # answer like dcmqrscp: no SOPClassUID at IMAGE level


class DmpSettings(_Section):
    port: int = Field(default=8443, ge=0, le=65535)
    public_host: str = "127.0.0.1"  # host name the SUT uses to reach the DMP simulator


class DrimboxSourceSettings(_Section):
    """The harness's DRIMbox Source: the MLLP listener a RIS under test sends its reports to."""

    port: int = Field(default=2575, ge=0, le=65535)
    receiving_application: str = "DRIMBOX"  # expected MSH-5 of the RIS's messages
    receiving_facility: str = "DB_FAC"  # expected MSH-6


class ContextualCallSettings(_Section):
    """The harness's DRIMbox Conso contextual-call endpoint (HTTPS with the run's test CA, or plain HTTP)."""

    port: int = Field(default=8444, ge=0, le=65535)
    path: str = Field(default="/appel-contextuel", pattern=r"^/[^?#\s]*$")
    tls: bool = True  # false: plain HTTP (a RIS on a closed LAN that cannot load the test CA)
    public_host: str = "127.0.0.1"  # host name the RIS uses to reach the endpoint (server certificate SAN)


class PscSettings(_Section):
    port: int = Field(default=8445, ge=0, le=65535)
    audience: str = "drimbox"
    professional_rpps: str = "10001234567"  # the test professional who opens the study


class FranceConnectSettings(_Section):
    port: int = Field(default=8450, ge=0, le=65535)


class ViewerClients(_Section):
    """The OIDC client the SUT's viewer is registered as at each identity provider."""

    client_id: str = "drimbox-viewer"
    client_secret: str = "drimva-test-secret"
    redirect_uri: str = ""  # the SUT's callback; empty for the embedded reference (known once it is up)


class TrustSettings(_Section):
    port: int = Field(default=8446, ge=0, le=65535)
    refresh_s: float = Field(default=0.001, gt=0)  # how often the embedded reference re-reads the list


class PeerSettings(_Section):
    """The peer DRIMboxes the harness plays: a trusted source and one absent from the trust list."""

    host: str = "127.0.0.2"
    port: int = Field(default=8447, ge=0, le=65535)
    untrusted_host: str = "127.0.0.3"
    untrusted_port: int = Field(default=8448, ge=0, le=65535)


class DicomNodeSettings(_Section):
    """The DICOM node the SUT consumer sends the retrieved images to (VA-D3)."""

    ae_title: str = Field(default="DRIMVA_NODE", min_length=1, max_length=16)
    port: int = Field(default=11114, ge=0, le=65535)
    stow_port: int = Field(default=8451, ge=0, le=65535)  # its STOW-RS service (HTTPS, the run's test CA)
    stow_path: str = Field(default="/dicom-web", pattern=r"^/[^?#\s]*$")  # STOW-RS root: POST {root}/studies


class BrowserSettings(_Section):
    """The browser of the viewer scenarios (VA-C1, VA-C2).

    ``http``: the built-in HTTP client (cookies, redirects, the login form
    posted, no JavaScript). ``chromium``: headless Chromium driven with
    Playwright, for a viewer that needs a real browser (``--browser chromium``
    on the command line sets it for one run).
    """

    kind: Literal["http", "chromium"] = "http"
    executable: str = "/usr/bin/chromium"
    settle_s: float = Field(default=0.6, ge=0, le=30)  # at most this long for the network to go quiet after a page load


class Harness(_Section):
    bind_host: str = "127.0.0.1"
    reports_dir: str = "reports"
    pki_dir: str = ""  # empty: a new test PKI per run, in the run folder
    ris: RisSettings = RisSettings()
    pacs: PacsSettings = PacsSettings()
    dmp: DmpSettings = DmpSettings()
    drimbox_source: DrimboxSourceSettings = DrimboxSourceSettings()
    contextual_call: ContextualCallSettings = ContextualCallSettings()
    psc: PscSettings = PscSettings()
    franceconnect: FranceConnectSettings = FranceConnectSettings()
    viewer_clients: ViewerClients = ViewerClients()
    trust: TrustSettings = TrustSettings()
    peer: PeerSettings = PeerSettings()
    dicom_node: DicomNodeSettings = DicomNodeSettings()
    browser: BrowserSettings = BrowserSettings()


class OrganisationSettings(_Section):
    name: str = "Centre d'imagerie drimva"
    structure_id: str = Field(default="750803447", pattern=r"^[0-9A-Za-z]{6,20}$")
    id_type: Literal["FINEG", "FINEJ", "IDNST", "SIRET"] = "FINEG"


class Timeouts(_Section):
    """Every wait of the harness.

    ``publication_s`` bounds every wait for something the SUT does after its
    answer (the C-FIND, the KOS publication, its replacement or withdrawal, the
    consumer's DMP query, WADO-RS fetch and C-STORE): the steps poll up to it.
    ``no_publication_grace_s`` is how long a check that something did *not*
    happen (no KOS, no request to an unlisted source) watches before it
    concludes: a SUT that acknowledges a report before it publishes
    (hl7v2-ris-to-drimbox.md open question 2) may publish up to
    ``publication_s`` after its ACK, so for such a SUT the grace must be as long.
    """

    connect_s: float = Field(default=5.0, gt=0, le=600)
    ack_s: float = Field(default=15.0, gt=0, le=600)
    publication_s: float = Field(default=20.0, gt=0, le=3600)
    no_publication_grace_s: float = Field(default=3.0, ge=0, le=600)
    startup_s: float = Field(default=20.0, gt=0, le=600)


class RuleSettings(_Section):
    require_retrieve_location_uid: bool = True
    qualified_identity_statuses: tuple[str, ...] = ("VALI", "QUAL")
    strict: bool = False
    run_dciodvfy: bool = True
    vihf_versions: tuple[str, ...] = ("3.0", "4.0")
    publish_requires_destdmp: bool = True
    strict_dn_match: bool = False  # VA-A: a server certificate DN other than DNCertificatOperateur fails (else warns)


class ViewerSettings(_Section):
    url_template: str = DEFAULT_VIEWER_TEMPLATE
    host: str = "vi.drimbox.test"


class Profile(_Section):
    sut: Sut = Sut()
    harness: Harness = Harness()
    organisation: OrganisationSettings = OrganisationSettings()
    timeouts: Timeouts = Timeouts()
    rules: RuleSettings = RuleSettings()
    viewer: ViewerSettings = ViewerSettings()

    source: str = Field(default="", exclude=True)  # where it was read from (not a TOML key)

    @property
    def is_embedded(self) -> bool:
        """The harness starts the SUT itself (reference DRIMbox or RIS simulator)."""
        return self.sut.embedded != ""

    @property
    def is_ris(self) -> bool:
        return self.sut.kind == "ris"

    def rule_options(self, trusted_ca_pem: bytes | None = None) -> RuleOptions:
        """The ``[rules]`` section as the rules take it (``trusted_ca_pem``: the run's CA, live runs)."""
        rules = self.rules
        return RuleOptions(
            require_retrieve_location_uid=rules.require_retrieve_location_uid,
            qualified_identity_statuses=tuple(rules.qualified_identity_statuses),
            strict=rules.strict,
            accepted_vihf_versions=tuple(rules.vihf_versions),
            trusted_ca_pem=trusted_ca_pem,
        )

    def pki_folder(self, run_dir: Path) -> Path:
        """Where the test PKI lives: the profile's folder, else per run (embedded SUT) or
        ``<reports_dir>/pki`` (a real SUT is configured once with it)."""
        if self.harness.pki_dir:
            return Path(self.harness.pki_dir)
        return run_dir / "pki" if self.is_embedded else Path(self.harness.reports_dir) / "pki"


def _format_errors(error: ValidationError, origin: str) -> str:
    lines = [f"invalid SUT profile {origin}:"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(root)"
        kind = item.get("type", "")
        if kind == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
            continue
        given = item.get("input")
        shown = "" if isinstance(given, dict) else f" (got {given!r})"
        lines.append(f"  {key}: {item['msg']}{shown}")
    return "\n".join(lines)


def profile_from_mapping(data: dict[str, Any], origin: str = "<mapping>") -> Profile:
    if "source" in data:
        raise ProfileError(f"invalid SUT profile {origin}:\n  source: unknown key")
    try:
        profile = Profile.model_validate(data)
    except ValidationError as error:
        raise ProfileError(_format_errors(error, origin)) from None
    return profile.model_copy(update={"source": origin})


def with_settings(profile: Profile, settings: Mapping[str, Any], why: str) -> Profile:
    """``profile`` with ``settings`` (nested like the TOML) laid over it, validated again; ``why`` joins its origin."""
    origin = f"{profile.source} + {why}"
    return profile_from_mapping(_merged(profile.model_dump(), settings), origin)


def _merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        merged[key] = _merged(below, value) if isinstance(below, Mapping) and isinstance(value, Mapping) else value
    return merged


def load_profile(path: str | Path | None = None, embedded: str = EMBEDDED_PROFILE) -> Profile:
    """Read a profile file; ``None`` gives the embedded profile ``embedded`` (default: the reference DRIMbox)."""
    if path is None:
        text = resources.files("drimva.profiles").joinpath(embedded).read_text("utf-8")
        origin = f"(embedded {embedded})"
    else:
        file = Path(path)
        if not file.is_file():
            raise ProfileError(f"SUT profile not found: {file}")
        text = file.read_text("utf-8")
        origin = str(file)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"SUT profile {origin} is not valid TOML: {error}") from None
    return profile_from_mapping(data, origin)
