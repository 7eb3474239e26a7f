"""The SUT profile: one TOML file describing the system under test.

It says what the SUT claims, where it listens, where the harness's simulators
listen, and the timeouts and rule settings. It is the only file a user edits.
Unknown keys and bad values are reported with the dotted key that is wrong,
never with a traceback (:class:`ProfileError`).

Where the public sources disagree (``shared/reference/where-sources-disagree.md``)
the reading is a setting here, with the documented default.
"""

from __future__ import annotations

import string
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from drimva import netaddr
from drimva.context import RuleOptions
from drimva.rules.contextual_call import CONSENT_VALUES

EMBEDDED_PROFILE = "reference.toml"
EMBEDDED_RIS_PROFILE = "ris-reference.toml"
CONSENT_PARAMETERS = ("InformationEtConsentement", "InformationEtOppositionConsultation")

DEFAULT_VIEWER_TEMPLATE = (
    "https://{host}/IHEInvokeImageDisplay?requestType=STUDY&studyUID={study_uid}"
    "&Accessionnumber={accession_root}.{accession}&idCDA={cda_id}"
)


# The placeholders of viewer.url_template (fixtures.reports.viewer_url fills them).
VIEWER_PLACEHOLDERS = (
    "host", "location", "study_uid", "accession", "accession_root", "cda_id", "cda_id_root",
    "order_id", "order_root", "ins", "ipp",
)  # fmt: skip

# The harness's listening sockets by the kind of SUT a run tests, as (port key, host key): the
# DRIMbox suite plays the national services, the PACS, the DICOM node and two peer DRIMboxes
# (on their own hosts); the RIS mode plays the DRIMbox's MLLP listener and contextual-call endpoint.
HARNESS_LISTENERS: dict[str, tuple[tuple[str, str], ...]] = {
    "drimbox": (
        ("harness.pacs.port", "harness.bind_host"),
        ("harness.dmp.port", "harness.bind_host"),
        ("harness.psc.port", "harness.bind_host"),
        ("harness.franceconnect.port", "harness.bind_host"),
        ("harness.trust.port", "harness.bind_host"),
        ("harness.dicom_node.port", "harness.bind_host"),
        ("harness.dicom_node.stow_port", "harness.bind_host"),
        ("harness.peer.port", "harness.peer.host"),
        ("harness.peer.untrusted_port", "harness.peer.untrusted_host"),
    ),
    "ris": (
        ("harness.drimbox_source.port", "harness.bind_host"),
        ("harness.contextual_call.port", "harness.bind_host"),
    ),
}


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the key."""


def _checked_by(check: Callable[[str], object], *, optional: bool = False) -> AfterValidator:
    """A field validator running a :mod:`drimva.netaddr` check (``optional``: the empty string passes)."""

    def validate(value: str) -> str:
        if optional and not value:
            return value
        try:
            check(value)
        except netaddr.AddressError as error:
            raise PydanticCustomError("address", "{reason}", {"reason": str(error)}) from None
        return value

    return AfterValidator(validate)


Host = Annotated[str, _checked_by(netaddr.check_host)]  # an IP literal or a DNS host name
OptionalHost = Annotated[str, _checked_by(netaddr.check_host, optional=True)]
HostAndPort = Annotated[str, _checked_by(netaddr.check_host_port)]  # a host with an optional :port
WebUrl = Annotated[str, _checked_by(netaddr.check_http_url)]  # an absolute http(s) URL
OptionalWebUrl = Annotated[str, _checked_by(netaddr.check_http_url, optional=True)]


def _errors_at(title: str, errors: list[tuple[str, str, Any]]) -> ValidationError:
    """A ValidationError with one line per (dotted key relative to the model validated, message, value)."""
    return ValidationError.from_exception_data(
        title,
        [
            InitErrorDetails(type=PydanticCustomError("profile", "{reason}", {"reason": message}), loc=tuple(key.split(".")), input=value)
            for key, message, value in errors
        ],
    )


def viewer_template_problem(template: str, host: str) -> str | None:
    """What is wrong with a viewer URL template: unknown placeholders, or no absolute http(s) URL once filled."""
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        return f"not a URL template: {error}"
    unknown = sorted(names - set(VIEWER_PLACEHOLDERS))
    if unknown:
        return f"unknown placeholder(s) {_braced(unknown)}; known: {_braced(VIEWER_PLACEHOLDERS)}"
    sample = {name: host if name in ("host", "location") else "1.2.3" for name in VIEWER_PLACEHOLDERS}
    try:
        netaddr.check_http_url(template.format(**sample))
    except ValueError as error:  # AddressError, or a format spec that does not apply ({study_uid:d})
        return f"once filled ({{host}} = viewer.host): {error}"
    return None


def _braced(names: Iterable[str]) -> str:
    return " ".join("{" + name + "}" for name in names)


@dataclass(frozen=True)
class Listener:
    """One listening socket of the harness: the profile keys of its port and host, and their values."""

    port_key: str
    port: int
    host_key: str
    host: str


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hl7Endpoint(_Section):
    host: Host = "127.0.0.1"
    port: int = Field(default=2575, ge=0, le=65535)
    transport: Literal["mllp"] = "mllp"
    receiving_application: str = "DRIMBOX"
    receiving_facility: str = "DB_FAC"


class DicomNode(_Section):
    ae_title: str = Field(default="DRIMBOX", min_length=1, max_length=16)
    host: Host = "127.0.0.1"
    port: int = Field(default=11113, ge=0, le=65535)
    # VA-B3: its AE receives the PACS's IOCM rejection notes and updates the published KOS (dicom-query-retrieve.md
    # §5, ANS FAQ 8801); false: the IOCM scenario is not applicable (the DRIMbox declares no IOCM role)
    iocm: bool = True


class WadoEndpoint(_Section):
    base_url: WebUrl = "https://127.0.0.1/drimbox/wado-rs"
    retrieve_location_uid: str = ""  # expected value of (0040,E011), when the SUT documents one


class ConsumerEndpoint(_Section):
    """The consumer role of the SUT: where the contextual call is posted (``sut.roles`` has "consumer")."""

    contextual_url: WebUrl = "https://127.0.0.1:8444/drimbox/appel-contextuel"
    consent_parameter: str = "InformationEtOppositionConsultation"  # where-sources-disagree.md
    # the form of Patient.identifier.system the harness sends: "urn-oid" (urn:oid:<OID>, the FHIR form) or "oid"
    # (the bare OID of the ANS test server's example); trust-list-and-identity.md open question 6 leaves both open
    ins_system: Literal["urn-oid", "oid"] = "urn-oid"
    # how it sends the retrieved images to the DICOM node (VA-D3): the VA says a DICOM node (C-STORE),
    # the demonstrator stores over STOW-RS (where-sources-disagree.md); the node accepts both
    node_transport: Literal["c-store", "stow-rs"] = "c-store"


class SupervisionEndpoint(_Section):
    """How the ANS supervision tool reaches the SUT (VA-F; the protocol is not public: va-checklist.md)."""

    url: WebUrl = "https://127.0.0.1:8449/supervision"
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: int = Field(default=200, ge=100, le=599)
    expect_json_status: str = "UP"  # value of the JSON "status" field; empty: any JSON body
    timeout_s: float = Field(default=2.0, gt=0, le=60)
    probes: int = Field(default=5, ge=1, le=1000)  # probes of the VA-F scenario, every interval_s
    interval_s: float = Field(default=0.2, ge=0, le=3600)
    monitor_interval_s: float = Field(default=1.0, ge=0, le=3600)  # background probes for the whole run; 0: none


class TrustEntry(_Section):
    """How the SUT appears in the DRIM-M trust list the harness publishes (VA-A)."""

    db: OptionalHost = ""  # its `db` address; empty: the host of sut.wado.base_url
    dn: str = ""  # DNCertificatOperateur; empty: the subject of the certificate the harness issued (embedded SUT)
    # WADO-RS between DRIMboxes also authenticates the client by its certificate (the organisation's
    # TLS client certificate): a profile option, the demonstrator has none (where-sources-disagree.md)
    mutual_tls: bool = False


class RisSut(_Section):
    """What a RIS under test (``sut.kind = "ris"``) is expected to send (``drimva ris``)."""

    sending_application: str = ""  # expected MSH-3 of the RIS's messages ("" = not checked)
    sending_facility: str = ""  # expected MSH-4 ("" = not checked)
    report_count: int = Field(default=4, ge=1, le=1000)  # the session ends after this many messages / calls
    # Each scenario waits this long for its message (its own wait, not the session's): a RIS that never
    # sends the replacement does not eat the deletion's or the contextual call's time.
    step_wait_s: float = Field(default=300.0, gt=0, le=86400)
    session_duration_s: float = Field(default=3600.0, gt=0, le=86400)  # an upper bound of the whole session
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
    has_viewer: bool = True  # the study opens from the URL of the CR (VA-C1, VA-C2; with the source role)
    has_supervision: bool = True  # it answers the ANS supervision tool (VA-F)
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
    public_host: OptionalHost = ""  # host name the SUT uses to reach the DMP simulator; empty: harness.advertise_host


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
    public_host: OptionalHost = ""  # host name the RIS uses to reach the endpoint (server certificate SAN); empty: harness.advertise_host


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
    redirect_uri: OptionalWebUrl = ""  # the SUT's callback; empty for the embedded reference (known once it is up)


class TrustSettings(_Section):
    port: int = Field(default=8446, ge=0, le=65535)
    refresh_s: float = Field(default=0.001, gt=0)  # how often the embedded reference re-reads the list


class PeerSettings(_Section):
    """The peer DRIMboxes the harness plays: a trusted source and one absent from the trust list."""

    host: Host = "127.0.0.2"
    port: int = Field(default=8447, ge=0, le=65535)
    untrusted_host: Host = "127.0.0.3"
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
    bind_host: Host = "127.0.0.1"  # where the simulators listen; 0.0.0.0: every interface
    # the address (or name) the SUT reaches the harness by: in every URL and certificate it is given;
    # empty: bind_host (then bind_host must not be a wildcard)
    advertise_host: OptionalHost = ""
    # paths: relative to the profile file (an embedded profile: to the current folder)
    reports_dir: str = ""  # empty: ./reports of the folder drimva is run from
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

    @model_validator(mode="after")
    def _advertised(self) -> "Harness":
        if not self.advertise_host and self.bind_host in netaddr.WILDCARD_HOSTS:
            reason = f"needed: bind_host = {self.bind_host!r} listens on every interface; the address the SUT reaches the harness by"
            raise _errors_at("Harness", [("advertise_host", reason, self.advertise_host)])
        return self

    @property
    def advertised_host(self) -> str:
        """The address the SUT reaches the harness by (``advertise_host``, else ``bind_host``)."""
        return self.advertise_host or self.bind_host

    @property
    def dmp_host(self) -> str:
        return self.dmp.public_host or self.advertised_host

    @property
    def contextual_call_host(self) -> str:
        return self.contextual_call.public_host or self.advertised_host

    def peer_bind_host(self, advertised: str) -> str:
        """Where a peer DRIMbox advertised as ``advertised`` listens: that address when it is an IP
        address (a second address of the harness machine), else ``bind_host`` (a second name of it)."""
        return advertised if netaddr.is_ip_literal(advertised) else self.bind_host


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
    # the first is the PID-32 the harness sends in a qualified CR (a DRIMbox publishing on QUAL only is sent QUAL)
    qualified_identity_statuses: tuple[str, ...] = Field(default=("VALI", "QUAL"), min_length=1)
    strict: bool = False
    run_dciodvfy: bool = True
    vihf_versions: tuple[str, ...] = ("3.0", "4.0")
    publish_requires_destdmp: bool = True
    # VA-B2: what a DRIMbox does when the PACS holds the study under another AccessionNumber than the CR's.
    # The KOS carries the CR's accession (kos-manifest.md §3, §9 check 3): "publish" (default) expects the KOS
    # with it; the ANS demonstrator refuses to build the KOS then (dicom-query-retrieve.md §3):
    # "no_publication" expects nothing published.
    pacs_accession_mismatch: Literal["publish", "no_publication"] = "publish"
    # VA-B2: the study's non-image objects (presentation states, SR, …) in the KOS. kos-manifest.md open
    # question 3 leaves it open (included as COMPOSITE, or excluded): "referenced" (default) expects every
    # instance the PACS holds; "may_leave_out" expects its image instances, and accepts the others or not.
    kos_non_image: Literal["referenced", "may_leave_out"] = "referenced"
    strict_dn_match: bool = False  # VA-A: a server certificate DN other than DNCertificatOperateur fails (else warns)
    # RIS-4: the form of Patient.identifier.system in the contextual call. trust-list-and-identity.md §7's
    # example uses a bare OID and its open question 6 leaves the form open: "either" accepts both (default),
    # "urn-oid" requires the FHIR form urn:oid:<OID> (a profile choice, not a reading imposed by default).
    contextual_ins_system: Literal["either", "urn-oid"] = "either"
    # RIS-4: the values of the consent indicator of the contextual call. The value set is not public
    # (trust-list-and-identity.md §7, open question 6): a value outside this list is a warning, and a
    # site whose RIS sends another value set lists it here rather than fail with rules.strict.
    contextual_consent_values: tuple[str, ...] = Field(default=CONSENT_VALUES, min_length=1)
    # VA-D2: the transfer-syntax, q and boundary parameters of a consumer's Accept entries. Every ANS sample
    # carries them and the demonstrator Source answers 400 without them; PS3.18 defaults them
    # (dicomweb-between-drimboxes.md open question 3): "required" (default) fails a request without them,
    # "recommended" warns.
    wado_accept_parameters: Literal["required", "recommended"] = "required"


class ViewerSettings(_Section):
    url_template: str = DEFAULT_VIEWER_TEMPLATE
    host: HostAndPort = "vi.drimbox.test"

    @model_validator(mode="after")
    def _template_gives_a_url(self) -> ViewerSettings:
        problem = viewer_template_problem(self.url_template, self.host)
        if problem:
            raise _errors_at("ViewerSettings", [("url_template", problem, self.url_template)])
        return self


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

    @property
    def claims(self) -> frozenset[str]:
        """What the SUT claims (``drimva.va.VaItem.claims``): its roles, ``viewer``, ``supervision``."""
        flags = {"viewer": self.sut.has_viewer, "supervision": self.sut.has_supervision}
        return frozenset(self.sut.roles) | {name for name, claimed in flags.items() if claimed}

    def setting(self, key: str) -> Any:
        """The value of a dotted key (``harness.pacs.port``)."""
        value: Any = self
        for part in key.split("."):
            value = getattr(value, part)
        return value

    def listener(self, port_key: str) -> Listener:
        """The harness's listening socket whose port is ``port_key`` (a key of :data:`HARNESS_LISTENERS`)."""
        host_key = next(host for pairs in HARNESS_LISTENERS.values() for port, host in pairs if port == port_key)
        host = self.setting(host_key)
        if host_key.startswith("harness.peer."):  # a peer named by a host name listens on bind_host
            host = self.harness.peer_bind_host(host)
        return Listener(port_key, self.setting(port_key), host_key, host)

    def listeners(self) -> tuple[Listener, ...]:
        """The harness's listening sockets in a run of this profile."""
        return tuple(self.listener(port_key) for port_key, _ in HARNESS_LISTENERS[self.sut.kind])

    @model_validator(mode="after")
    def _one_listener_per_port(self) -> Profile:
        """Two harness services on one port of one address cannot both listen: the second is named."""
        errors: list[tuple[str, str, Any]] = []
        configured: list[Listener] = []
        for listener in self.listeners():
            if not listener.port:
                continue  # ephemeral
            other = next((o for o in configured if o.port == listener.port and netaddr.hosts_overlap(o.host, listener.host)), None)
            if other is not None:
                errors.append((listener.port_key, f"same port as {other.port_key} {_same_address(other, listener)}", listener.port))
            configured.append(listener)
        if errors:
            raise _errors_at("Profile", errors)
        return self

    def rule_options(self, trusted_ca_pem: bytes | None = None) -> RuleOptions:
        """The ``[rules]`` section as the rules take it (``trusted_ca_pem``: the run's CA, live runs)."""
        rules = self.rules
        return RuleOptions(
            require_retrieve_location_uid=rules.require_retrieve_location_uid,
            qualified_identity_statuses=tuple(rules.qualified_identity_statuses),
            strict=rules.strict,
            accepted_vihf_versions=tuple(rules.vihf_versions),
            trusted_ca_pem=trusted_ca_pem,
            wado_accept_parameters=rules.wado_accept_parameters,
            kos_non_image=rules.kos_non_image,
        )

    @property
    def reports_folder(self) -> Path:
        """Where run folders go: ``harness.reports_dir``, else ``./reports`` of the current folder."""
        return Path(self.harness.reports_dir or "reports").resolve()

    def pki_folder(self, run_dir: Path) -> Path:
        """Where the test PKI lives: the profile's folder, else per run (embedded SUT) or
        ``<reports_dir>/pki`` (a real SUT is configured once with it)."""
        if self.harness.pki_dir:
            return Path(self.harness.pki_dir).resolve()
        return run_dir / "pki" if self.is_embedded else self.reports_folder / "pki"


def _same_address(first: Listener, second: Listener) -> str:
    if first.host.lower() == second.host.lower():
        return f"on {first.host}"
    wide, narrow = (first, second) if first.host in netaddr.WILDCARD_HOSTS else (second, first)
    return f"on {narrow.host} ({wide.host_key} = {wide.host} listens on every address)"


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
    profile = profile_from_mapping(data, origin)
    return anchor_paths(profile, Path.cwd() if path is None else Path(path).resolve().parent)


# The profile keys that hold a file or folder path.
PATH_KEYS = ("harness.reports_dir", "harness.pki_dir", "harness.browser.executable")


def anchor_paths(profile: Profile, base: Path) -> Profile:
    """The profile with every relative path of :data:`PATH_KEYS` made absolute against ``base``
    (the profile file's folder), so that a profile means the same files from any current folder."""
    anchored: dict[str, Any] = {}
    for key in PATH_KEYS:
        value = profile.setting(key)
        if value and not Path(value).is_absolute():
            anchored = _merged(anchored, _nested(key, str(base / value)))
    return profile_from_mapping(_merged(profile.model_dump(), anchored), profile.source) if anchored else profile


def _nested(key: str, value: Any) -> dict[str, Any]:
    """``{"harness": {"pki_dir": value}}`` for ``harness.pki_dir``."""
    nested: Any = value
    for part in reversed(key.split(".")):
        nested = {part: nested}
    return nested
