"""Named faults of the reference DRIMbox: each is one defect, breaking the requirements it names.

``targets`` name the scenarios (of ``drimva/features/*.feature``, by their
stable ``@id:`` tag, :mod:`drimva.scenario_ids`) that must fail when the fault
is on, and ``rules`` the catalogue rule ids whose error findings must fail
them (the self-test checks both). The service reads the
HL7/KOS/gate and ``iocm_*`` faults (those of the written manifest in ``kos_faults.py``), the DMP client the
DMP-side ones (the ITI-41 body's through ``xds_metadata``, the VIHF's through ``vihf.alter_vihf``), the WADO-RS source
server the ``wado_*`` ones, the consumer modules the ``consumer_*`` and
``trust_*`` ones, the viewer / OIDC client the ``viewer_*`` ones, the
supervision server the ``supervision_*`` ones, ``__main__`` the TLS identity ones
(``tls_wrong_certificate``, ``https_front_self_signed``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .named import select_named

S_ORU = "B1-ORU"  # Le CR transmis en ORU^R01 est reçu et acquitté
S_MDM = "B1-MDM"  # Le CR transmis en MDM^T02 est reçu et acquitté
S_PACS = "B2-CFIND"  # La DRIMbox interroge le PACS sur l'examen du CR
S_CR_PACS = "B2-CR-PACS-DIFFER"  # Quand le CR et le PACS diffèrent, le KOS prend l'examen au PACS et le patient au CR
S_ACCESSION = "B2-ACCESSION-DIFFERS"  # Quand le PACS porte un autre numéro d'accession que le CR, le KOS porte celui du CR ou rien n'est publié
S_NON_IMAGE = "B2-NON-IMAGE"  # Le KOS référence aussi les objets non-image de l'examen, un état de présentation et un SR, sauf si le profil admet de les omettre
S_KOS = "B3-KOS"  # Le KOS est publié dans le DMP avec le certificat de la structure
S_RPLC = "B3-RPLC-MDM"  # Le CR corrigé transmis en MDM^T10 remplace le KOS publié
S_RPLC_ORU = "B3-RPLC-ORU"  # Le CR corrigé transmis en ORU^R01 remplace le KOS publié
S_RPLC_TWICE = "B3-RPLC-TWICE"  # Un second CR corrigé remplace le KOS de la première correction
S_RPLC_TWO_STUDIES = "B3-RPLC-TWO-STUDIES"  # Le CR corrigé d'un des deux examens du patient remplace le seul KOS de cet examen
S_IOCM = "B3-IOCM"  # Une note de rejet IOCM du PACS fait remplacer le KOS publié par un KOS sans l'instance rejetée
S_DEL = "B3-DEL-ORU"  # La suppression du CR transmise en ORU^R01 retire le KOS publié
S_DEL_MDM = "B3-DEL-MDM"  # La suppression du CR transmise en MDM^T04 retire le KOS publié
S_UNQ = "B3-UNQUALIFIED"  # Aucun KOS n'est publié pour une identité non qualifiée
S_UNK = "B3-UNKNOWN-STUDY"  # Aucun KOS n'est publié pour un examen inconnu du PACS
S_MALFORMED = "B1-MALFORMED"  # Un CR mal formé est refusé par un acquittement d'erreur et rien n'est publié
S_UNREADABLE = "B1-UNREADABLE"  # Un CR dont le document CDA est illisible est refusé par un acquittement d'erreur et rien n'est publié
S_DESTDMP = "B3-DESTDMP"  # Aucun KOS n'est publié pour un CR que le RIS ne destine pas au DMP
S_E_SERIES = "E-SERIES"  # Une DRIMbox consommatrice récupère chaque série d'un examen publié par la DRIMbox source
S_E_NO_TOKEN = "E-NO-TOKEN"  # La DRIMbox source refuse une requête sans jeton
S_E_EXPIRED = "E-EXPIRED"  # La DRIMbox source refuse un jeton expiré
S_E_ISSUER = "E-ISSUER"  # La DRIMbox source refuse un jeton d'un émetteur inconnu
S_E_NO_KOS = "E-NO-KOS"  # La DRIMbox source refuse une requête sans en-tête KOS-SOPInstanceUID
S_E_NOT_IN_KOS = "E-NOT-IN-KOS"  # La DRIMbox source refuse une série non référencée par le KOS
S_E_PLAIN = "E-PLAIN"  # La DRIMbox source refuse le HTTP en clair
S_A_LISTED = "A-LISTED"  # La DRIMbox figure dans la liste blanche avec un certificat serveur conforme
S_A_UNTRUSTED = "A-UNTRUSTED"  # La DRIMbox refuse une DRIMbox source absente de la liste blanche
S_A_CORRUPTED = "A-CORRUPTED"  # La DRIMbox rejette une liste blanche corrompue
S_A_UNSIGNED = "A-UNSIGNED"  # La DRIMbox rejette une liste blanche non signée
S_D_CALL = "D1-CALL"  # L'appel contextuel est accepté et la DRIMbox consulte le DMP
S_D_CALL_400 = "D1-CALL-MISSING"  # L'appel contextuel incomplet est refusé
S_D_CALL_EMPTY = "D1-CALL-EMPTY"  # L'appel contextuel avec un paramètre vide est refusé
S_D_SERIES = "D2-SERIES"  # Chaque série est récupérée auprès de la DRIMbox source avec un jeton valide et l'en-tête KOS
S_D_FORWARD = "D3-FORWARD"  # L'examen complet est transmis intact au nœud DICOM
S_C_NO_SESSION = "C-NO-SESSION"  # Sans session, la visionneuse ne montre pas l'examen
S_C_OTHER_PATIENT = "C1-OTHER-PATIENT"  # Un patient connecté sous une autre identité n'accède pas à l'examen
S_C_ISSUER = "C2-ISSUER"  # Un jeton d'un émetteur inconnu n'ouvre pas la visionneuse
S_C_PATIENT = "C1-FRANCECONNECT"  # Le patient ouvre son examen depuis l'URL du CR avec FranceConnect+
S_C_PROFESSIONAL = "C2-PSC"  # Un professionnel ouvre l'examen depuis l'URL du CR avec Pro Santé Connect
S_F_SUPERVISION = "F-SUPERVISION"  # La DRIMbox répond à l'outil de supervision de l'ANS


@dataclass(frozen=True)
class Fault:
    """``targets``: the scenarios it must fail; ``rules``: the rule ids whose error findings must fail them.

    With ``rules`` the self-test checks the kill's reason as well as the kill: a
    target that fails through another rule (a cascade, a timeout) is a problem,
    since the requirement the fault breaks was then never seen judged.
    """

    name: str
    description: str
    targets: tuple[str, ...]
    rules: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["targets"] = list(self.targets)
        data["rules"] = list(self.rules)
        return data


FAULTS: tuple[Fault, ...] = (
    Fault("hl7_no_ack", "closes the MLLP connection without sending the ACK", (S_ORU, S_MDM), rules=("ACK-PRESENT",)),
    Fault("hl7_ack_wrong_msa2", "MSA-2 of the ACK differs from the received MSH-10", (S_ORU, S_MDM), rules=("ACK-MSA2",)),
    Fault("hl7_accept_unreadable", "acknowledges AA a CR it cannot read (no PID, CDA not readable) and drops it",
          (S_MALFORMED, S_UNREADABLE), rules=("ACK-MSA1",)),
    Fault(
        "hl7_refuse_without_err", "refuses an unreadable CR with AE but no ERR segment (the error is not said)",
        (S_MALFORMED, S_UNREADABLE), rules=("ACK-ERR",),
    ),
    Fault("hl7_ack_wrong_msh9", "answers ACK^R01^ACK whatever the trigger event", (S_MDM,), rules=("ACK-MSH9",)),
    Fault(
        "hl7_ack_fixed_header",
        "ACK MSH from the vendor's template (its own application names, version 2.3), not from the received MSH",
        (S_ORU,), rules=("ACK-ROUTING", "ACK-VERSION"),
    ),
    # Store-and-forward: it waits for the PACS to send it the study; the PACS never does unasked, so nothing is published.
    Fault("pacs_no_query", "never queries the PACS (no C-FIND): waits for the study to be pushed to it", (S_PACS,), rules=("PACS-CFIND",)),
    Fault("kos_study_date_not_from_pacs", "KOS StudyDate/StudyTime = now instead of the PACS values", (S_PACS,), rules=("KOS-STUDY-FROM-PACS",)),
    Fault("kos_drop_instance", "last instance of the last series left out of the KOS evidence and content", (S_KOS,), rules=("KOS-EVIDENCE-COMPLETE",)),
    Fault(
        "kos_mixes_patient_studies",
        "the KOS of a study also references the instances of the patient's other published studies (queried in the PACS)",
        (S_RPLC_TWO_STUDIES,), rules=("KOS-EVIDENCE-EXTRA",),
    ),
    Fault("kos_no_retrieve_url", "no RetrieveURL (0008,1190) in the KOS series items", (S_KOS,), rules=("KOS-RETRIEVE-URL",)),
    Fault(
        "kos_patient_name_from_pacs", "KOS PatientName = the PACS's (C-FIND at STUDY level) instead of the CR's birth name",
        (S_CR_PACS,), rules=("KOS-PATIENT-TRAITS",),
    ),
    Fault(
        "kos_accession_from_pacs", "KOS ReferencedRequestSequence AccessionNumber = the PACS's instead of the CR's",
        (S_ACCESSION,), rules=("KOS-REQUEST-ACCESSION",),
    ),
    Fault(
        "kos_drop_non_image", "KOS leaves out the study's non-image objects (presentation states, SR): images only",
        (S_NON_IMAGE,), rules=("KOS-EVIDENCE-COMPLETE",),
    ),
    Fault(
        "kos_non_image_as_image", "KOS content references every instance, non-image objects too, as an IMAGE item",
        (S_NON_IMAGE,), rules=("KOS-CONTENT-VALUE-TYPE",),
    ),
    Fault("kos_wrong_patient_id", "KOS PatientID = the IPP instead of the INS", (S_KOS,), rules=("KOS-PATIENT-ID",)),
    # The written manifest itself (kos_faults.py, the builder's alter hook).
    Fault(
        "kos_as_basic_text_sr",
        "manifest written by the SR module as a narrative Basic Text SR: SOP class 88.11, Modality SR, title LOINC "
        "18748-4 Diagnostic Imaging Report, TID 2000, ContinuityOfContent CONTINUOUS",
        (S_KOS,), rules=("KOS-SOP-CLASS", "KOS-MODALITY", "KOS-TITLE", "KOS-TEMPLATE", "KOS-CONTAINER"),
    ),
    Fault("kos_template_study_uid", "KOS StudyInstanceUID left from the vendor's template file (the evidence's is right)",
          (S_KOS,), rules=("KOS-STUDY-UID",)),
    Fault(
        "kos_no_issuers", "KOS without its issuer sequences: no INS OID qualifier, no accession issuer, no order placer OID",
        (S_KOS,), rules=("KOS-PATIENT-ISSUER", "KOS-REQUEST-ORDER"),
    ),
    Fault("kos_location_uid_is_ae", "KOS RetrieveLocationUID filled with the AE title, not a UID", (S_KOS,),
          rules=("KOS-RETRIEVE-LOCATION-UID",)),
    Fault("kos_no_sop_class", "KOS ReferencedSOPClassUID empty (the IMAGE-level C-FIND did not ask for SOPClassUID)",
          (S_KOS,), rules=("KOS-SOP-CLASSES",)),
    Fault("kos_content_by_series", "KOS content references nested in one CONTAINER per series (TID 2010 has none)",
          (S_KOS,), rules=("KOS-CONTENT-TREE",)),
    Fault("kos_evidence_off_by_one", "KOS evidence stops one instance short: the content references an instance it lacks",
          (S_KOS,), rules=("KOS-CONTENT-IN-EVIDENCE",)),
    Fault("publish_unqualified", "publishes a KOS even when the identity is not qualified", (S_UNQ,), rules=("DMP-NO-PUBLICATION",)),
    Fault("publish_despite_destdmp", "publishes a KOS although the CR's MetaDMPMSS DESTDMP flag is N", (S_DESTDMP,),
          rules=("DMP-NO-PUBLICATION",)),
    Fault("publish_unknown_study", "publishes a KOS with an empty series list when the PACS has no instance", (S_UNK,), rules=("DMP-NO-PUBLICATION",)),
    Fault("replace_without_rplc", "publishes the corrected CR's KOS as a new document, without RPLC", (S_RPLC, S_RPLC_ORU), rules=("XDS-RPLC",)),
    # The DMP refuses an RPLC to a deprecated entry, so the DRIMbox answers AR: the kill is seen on the ACK.
    Fault("rplc_targets_first", "a second replacement's RPLC targets the study's first KOS entry, not the one it replaces",
          (S_RPLC_TWICE,), rules=("ACK-MSA1",)),
    # The DMP accepts it (the other study's entry is Approved): the new entry replaces the wrong one.
    Fault(
        "rplc_targets_patient_latest",
        "a corrected CR's RPLC targets the patient's most recently published KOS entry (another study's), not its study's",
        (S_RPLC_TWO_STUDIES,), rules=("XDS-RPLC", "DMP-OTHER-STUDY-KEPT"),
    ),
    Fault("delete_ignored", "acknowledges a deletion with AA and does nothing", (S_DEL, S_DEL_MDM), rules=("DMP-WITHDRAWN",)),
    # IOCM (dicom-query-retrieve.md §5): the rejection note of an instance of a published study
    Fault("iocm_refused", "refuses the PACS's IOCM rejection note (C-STORE status 0xA700)", (S_IOCM,), rules=("IOCM-NOTE-ACCEPTED",)),
    Fault("iocm_ignored", "stores the PACS's IOCM rejection note and leaves the published KOS as it was", (S_IOCM,),
          rules=("DMP-PUBLICATION",)),
    Fault(
        "iocm_keeps_rejected",
        "after an IOCM rejection note, republishes the KOS from the instances it saw before (the rejected one kept) "
        "instead of querying the PACS again",
        (S_IOCM,), rules=("KOS-EVIDENCE-EXTRA",),
    ),
    Fault("xds_wrong_typecode", "XDS typeCode other than the KOS type code", (S_KOS,), rules=("XDS-TYPECODE",)),
    Fault(
        "xds_ignore_masking_flags",
        "XDS confidentialityCode carries the CR's level only, not the MetaDMPMSS masking flags set to Y",
        (S_KOS,),
        rules=("XDS-CONFIDENTIALITY",),
    ),
    # The DMP refuses the submission (XDSNonIdenticalHash): DMP-PUBLICATION's finding carries the DMP's refusal.
    # The DMP simulator refuses it; the harness judges the refused request all the same (its metadata, its KOS).
    Fault(
        "xds_wrong_hash",
        "attaches the KOS file from byte 132 on (no preamble, no DICM prefix) but declares the hash and size of the whole file",
        (S_KOS,), rules=("XDS-HASH", "XDS-SIZE", "KOS-PART10"),
    ),
    Fault(
        "xds_local_creation_time",
        "XDS creationTime written in Paris local time as if it were UTC (an hour or two after the submission)",
        (S_KOS,), rules=("XDS-CREATION-TIME",),
    ),
    Fault(
        "xds_no_author_institution", "XDS authorInstitution without the organisation's identifier (the VIHF keeps it)",
        (S_KOS,), rules=("XDS-AUTHOR-INSTITUTION",),
    ),
    Fault(
        "xds_no_event_codes", "XDS eventCodeList without the modality codes of the KOS's series",
        (S_KOS,), rules=("XDS-EVENTCODES",),
    ),
    Fault(
        "xds_soap11_inline", "ITI-41 sent by a SOAP 1.1 stack: SOAP 1.1 envelope, the KOS inline in base64, no MTOM/XOP",
        (S_KOS,), rules=("XDS-SOAP", "XDS-MTOM"),
    ),
    Fault(
        "xds_kos_entry_as_cr",
        "KOS DocumentEntry filled from the CR's template: mimeType text/xml, classCode 10, the CR's formatCode, uniqueId a new OID",
        (S_KOS,), rules=("XDS-MIMETYPE", "XDS-CLASSCODE", "XDS-FORMATCODE", "XDS-UNIQUEID"),
    ),
    Fault("xds_document_id_is_unique_id", "xds-b:Document/@id = the KOS uniqueId instead of its DocumentEntry's id", (S_KOS,),
          rules=("XDS-DOCUMENT",)),
    Fault("xds_kos_entry_twice", "the KOS DocumentEntry and its Document written twice in one submission (two entryUUIDs)",
          (S_KOS,), rules=("XDS-ONE-KOS-ENTRY",)),
    Fault("xds_no_submission_slots", "no submissionTime on the SubmissionSet, no SubmissionSetStatus on its HasMember",
          (S_KOS,), rules=("XDS-SUBMISSIONSET", "XDS-HASMEMBER")),
    Fault(
        "xds_cx_without_type",
        # its VIHF resource-id is wrong too, but the scenario stops at the XDS step, before the VIHF one
        "CX identifiers without their type (CX.5): patientId and VIHF resource-id without ^NH, referenceIdList values untyped",
        (S_KOS,), rules=("XDS-PATIENTID", "XDS-REFERENCEIDLIST"),
    ),
    Fault("xds_signature_not_signing", "sends a DSG signature entry (Signature01) without its signs association", (S_KOS,),
          rules=("XDS-SIGNATURE-ENTRY",)),
    Fault("xds_status_update_by_unique_id", "ITI-57 UpdateAvailabilityStatus targets the KOS uniqueId, not the entry's entryUUID",
          (S_DEL,), rules=("XDS-STATUS-UPDATE",)),
    Fault("vihf_unsigned", "VIHF assertion sent without its signature", (S_KOS,), rules=("VIHF-SIGNATURE",)),
    # The DMP simulator refuses the expired assertion with a SOAP fault; the harness judges the refused request.
    Fault("vihf_expired", "VIHF assertion issued two hours before the call (IssueInstant outside its validity window)", (S_KOS,),
          rules=("VIHF-VALIDITY",)),
    Fault("vihf_absent", "no VIHF assertion in wsse:Security (the structure's TLS certificate taken for enough)", (S_KOS,),
          rules=("VIHF-PRESENT",)),
    Fault(
        "vihf_old_template",
        "VIHF from a 1.0 template: VIHF_Version 1.0, Authentification_Mode DIRECTE, resource-id the bare INS, no Ressource_URN",
        (S_KOS,), rules=("VIHF-VERSION", "VIHF-AUTH-MODE", "VIHF-RESOURCE-ID", "VIHF-RESSOURCE-URN"),
    ),
    Fault(
        "vihf_demo_profile",
        "VIHF from the installation's demo profile: a demo sender and structure, signed with a self-signed demo certificate",
        (S_KOS,), rules=("VIHF-SUBJECT", "VIHF-STRUCTURE", "VIHF-SIGNING-CERT"),
    ),
    # The DMP answers a SOAP fault; the harness judges the refused request's TLS subject (none) and nothing is queried.
    Fault("dmp_no_client_cert", "TLS to the DMP without the client certificate (publication and consultation)", (S_KOS, S_D_CALL),
          rules=("DMP-CLIENT-CERT", "DMP-ITI-18")),
    Fault(
        "wado_no_token_check",
        "WADO-RS source serves without checking the bearer token (absent, expired, unknown issuer, bad signature)",
        (S_E_NO_TOKEN, S_E_EXPIRED, S_E_ISSUER),
        rules=("WADO-SECURITY",),
    ),
    Fault(
        "wado_ignore_kos_header",
        "WADO-RS source serves the series whatever the KOS-SOPInstanceUID header (absent, unknown, not referencing it)",
        (S_E_NO_KOS, S_E_NOT_IN_KOS),
        rules=("WADO-SECURITY",),
    ),
    Fault(
        "wado_skip_last_instance",
        "WADO-RS source leaves the last instance of the series out of a 200 response",
        (S_E_SERIES,),
        rules=("RETRIEVAL-COMPLETE",),
    ),
    Fault(
        "wado_response_untyped",
        "WADO-RS source answers multipart/related without its type=\"application/dicom\" parameter (the parts are DICOM)",
        (S_E_SERIES,),
        rules=("WADO-CONTENT-TYPE",),
    ),
    Fault(
        "wado_plain_http",
        "WADO-RS source port also answers plain HTTP (a connection not starting with a TLS handshake is served in clear)",
        (S_E_PLAIN,),
        rules=("WADO-TLS",),
    ),
    Fault(
        "wado_no_syntax_fallback",
        "WADO-RS source answers 406 when the Accept's highest-q transfer syntax is not the one it serves (no fall back to a lower q)",
        (S_E_SERIES,), rules=("WADO-STATUS", "WADO-SERIES-200"),
    ),
    Fault(
        "wado_transcode_implicit",
        "WADO-RS source transcodes to Implicit VR Little Endian (its PACS's default), a syntax the Accept does not list",
        (S_E_SERIES,), rules=("WADO-RESPONSE-TS",),
    ),
    Fault(
        "wado_declares_preferred_syntax",
        "WADO-RS source declares the Accept's preferred transfer syntax (Content-Type, parts) but sends the instances untranscoded",
        (S_E_SERIES,), rules=("WADO-PART-TS",),
    ),
    Fault(
        "wado_parts_octet_stream", "WADO-RS source labels each DICOM part application/octet-stream",
        (S_E_SERIES,), rules=("WADO-PART-TYPE",),
    ),
    Fault(
        "wado_parts_without_file_meta",
        "WADO-RS source sends each part as the bare data set (no preamble, DICM prefix or file meta), not a Part-10 instance",
        (S_E_SERIES,), rules=("WADO-PART-DICOM",),
    ),
    Fault(
        "wado_multipart_bare_boundary",
        "WADO-RS source writes the multipart delimiter lines as the bare boundary, without the leading -- (RFC 2046 §5.1.1)",
        (S_E_SERIES,), rules=("WADO-PARTS",),
    ),
    # Block A and the consumer role (VA-D).
    Fault(
        "tls_wrong_certificate",
        "HTTPS servers present the organisation's signing certificate instead of the operator certificate of the trust list",
        (S_A_LISTED,),
        rules=("TRUST-SERVER-CERT",),
    ),
    # The harness's TLS handshake fails: no HTTP answer, while the endpoint still listens (a finding, not an error outcome).
    Fault(
        "https_front_self_signed",
        "the contextual-call and viewer HTTPS endpoints present the product's self-signed factory certificate",
        (S_D_CALL, S_C_PROFESSIONAL), rules=("CALL-REACHABLE", "VIEWER-REACHABLE"),
    ),
    Fault(
        "consumer_accept_missing_param",
        "answers 303 to a contextual call missing a mandatory parameter or with an empty one",
        (S_D_CALL_400, S_D_CALL_EMPTY),
        rules=("CALL-400",),
    ),
    Fault(
        "consumer_call_200", "answers a valid contextual call 200 (consultation started) instead of redirecting (302 / 303)",
        (S_D_CALL,), rules=("CALL-REDIRECT",),
    ),
    Fault(
        "trust_accept_unsigned",
        "adopts a liste blanche whose signature is absent or does not verify",
        (S_A_CORRUPTED, S_A_UNSIGNED),
        rules=("TRUST-UNLISTED-PEER",),
    ),
    Fault("trust_ignore_list", "fetches images from a source DRIMbox absent from the liste blanche", (S_A_UNTRUSTED,), rules=("TRUST-UNLISTED-PEER",)),
    Fault("consumer_skip_series", "fetches every series of the KOS but the last", (S_D_SERIES,), rules=("WADO-SERIES-FETCHED",)),
    Fault("consumer_forward_partial", "sends all retrieved instances but one to the DICOM node", (S_D_FORWARD,), rules=("RETRIEVAL-COMPLETE",)),
    Fault(
        "consumer_corrupt_pixels", "flips the first pixel byte of the last retrieved instance before sending it to the DICOM node",
        (S_D_FORWARD,), rules=("RETRIEVAL-PIXELS",),
    ),
    Fault(
        "consumer_accept_without_transfer_syntax",
        "WADO-RS requests whose Accept names no transfer-syntax (PS3.18's default, not the CI-SIS list of syntaxes)",
        (S_D_SERIES,), rules=("WADO-ACCEPT-TS",),
    ),
    Fault("consumer_no_kos_header", "WADO-RS requests without the KOS-SOPInstanceUID header", (S_D_SERIES,), rules=("WADO-SERIES-FETCHED",)),
    Fault("consumer_no_accept", "WADO-RS requests without an Accept header", (S_D_SERIES,), rules=("WADO-ACCEPT",)),
    Fault(
        "consumer_accept_any", "WADO-RS requests with its HTTP library's Accept: */* (no media range, syntax, q or boundary of its own)",
        (S_D_SERIES,), rules=("WADO-ACCEPT-MEDIA-TYPE", "WADO-ACCEPT-Q", "WADO-ACCEPT-BOUNDARY"),
    ),
    Fault(
        "consumer_token_without_scheme", "WADO-RS requests with Authorization: <token>, without the Bearer scheme",
        (S_D_SERIES,), rules=("WADO-AUTHORIZATION",),
    ),
    Fault(
        "consumer_uid_nul_padding",
        "WADO-RS request paths end with the series UID as DICOM stores it, its NUL padding byte URL-encoded (…/series/<uid>%00)",
        (S_D_SERIES,), rules=("WADO-PATH",),
    ),
    Fault(
        "consumer_retrieve_post", "WADO-RS retrieve sent as POST (an HTTP helper shared with STOW-RS), not GET",
        (S_D_SERIES,), rules=("WADO-METHOD",),
    ),
    # Viewer (VA-C1, VA-C2) and supervision (VA-F).
    # it never sends the browser to an identity provider: the patient's and the professional's logins fail too
    Fault(
        "viewer_no_login", "the viewer serves the study (page and API) without a session",
        (S_C_NO_SESSION, S_C_PATIENT, S_C_PROFESSIONAL),
        rules=("VIEWER-ACCESS", "VIEWER-IDP"),
    ),
    Fault(
        "viewer_ignore_patient_identity",
        "the viewer serves a study to any FranceConnect+ user, whatever the patient's INS traits",
        (S_C_OTHER_PATIENT,),
        rules=("VIEWER-ACCESS",),
    ),
    Fault(
        "viewer_accept_any_issuer",
        "the viewer accepts an id_token without checking its signature and issuer",
        (S_C_ISSUER,),
        rules=("VIEWER-ACCESS",),
    ),
    Fault(
        "viewer_login_loses_study",
        "after login the viewer sends the browser to its home page, not back to the study URL (its query lost)",
        (S_C_PROFESSIONAL,), rules=("VIEWER-STUDY",),
    ),
    Fault("supervision_slow", "the supervision endpoint answers after 3 s", (S_F_SUPERVISION,), rules=("SUPERVISION-PROBE",)),
    Fault("supervision_wrong_status", 'the supervision endpoint answers 200 {"status": "DOWN"}', (S_F_SUPERVISION,), rules=("SUPERVISION-PROBE",)),
)

FAULTS_BY_NAME: dict[str, Fault] = {fault.name: fault for fault in FAULTS}


def listed_faults() -> tuple[Fault, ...]:
    """The faults ``--list-faults`` prints."""
    return FAULTS


def select_faults(name: str | None) -> frozenset[str]:
    """The set of active faults for ``--fault NAME`` (empty when None; :class:`UnknownName` if unknown)."""
    return select_named("fault", name, FAULTS_BY_NAME)
