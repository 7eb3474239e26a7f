"""The expected / actual values of findings in French, for the VA report only.

The rules write these values in English (``validate --json``, results.json and the tests carry
that English); the report handed to the client must be entirely in French, so it translates
them here, at the report layer. Exact phrases come from a table, formatted phrases from
regexes with named groups; anything not recognised is data (UID, code, URL, HL7 field, URN)
and is returned unchanged.
"""

from __future__ import annotations

import re

from drimva.preflight import REASON_PREFIX, REASON_SEPARATOR

EXACT_FR: dict[str, str] = {
    "(absent)": "(absent)",
    "<KOS entry>": "<entrée KOS>",
    "(empty)": "(vide)",
    "(information)": "(information)",
    "(missing)": "(manquant)",
    "(no entry)": "(aucune entrée)",
    "(no host)": "(aucun hôte)",
    "(no id)": "(aucun identifiant)",
    "(none presented)": "(aucun présenté)",
    "(not in ContentSequence)": "(absent de ContentSequence)",
    "(not referenced)": "(non référencé)",
    "(no such relationship)": "(relation inconnue)",
    "absent": "absent",
    "present": "présent",
    "none": "aucun",
    "several": "plusieurs",
    "not received": "non reçu",
    "no ACK": "aucun ACK",
    "no HTTP answer": "aucune réponse HTTP",
    "no request": "aucune requête",
    "verification failed": "échec de la vérification",
    "series level": "niveau série",
    "1 KOS DocumentEntry": "1 DocumentEntry KOS",
    "1 document OBX": "1 OBX document",
    "1 enveloped signature": "1 signature enveloppée",
    "1 occurrence": "1 occurrence",
    "128-byte preamble then 'DICM'": "préambule de 128 octets puis 'DICM'",
    "302 or 303": "302 ou 303",
    "5 characters: digits, or 2A/2B + 3 digits": "5 caractères : chiffres, ou 2A/2B + 3 chiffres",
    "@root and @extension": "@root et @extension",
    "AE or AR": "AE ou AR",
    "F, C or D": "F, C ou D",
    "F, M, U (or female, male, unknown, other)": "F, M, U (ou female, male, unknown, other)",
    "HL7 v2 messages": "des messages HL7 v2",
    "Implicit or Explicit VR Little Endian": "Implicit ou Explicit VR Little Endian",
    "P, T or D": "P, T ou D",
    "RPPS or IDNPS": "RPPS ou IDNPS",
    "UNICODE UTF-8 or 8859/15": "UNICODE UTF-8 ou 8859/15",
    "YYYYMMDD (or YYYY-MM-DD)": "AAAAMMJJ (ou AAAA-MM-JJ)",
    "YYYYMMDDhhmmss (UTC)": "AAAAMMJJhhmmss (UTC)",
    "YYYYMMDDhhmmss": "AAAAMMJJhhmmss",
    "YYYY-MM-DDThh:mm:ssZ": "AAAA-MM-JJThh:mm:ssZ",
    "Y^^expandedYes-NoIndicator or N^^expandedYes-NoIndicator": "Y^^expandedYes-NoIndicator ou N^^expandedYes-NoIndicator",
    "ORU^R01^ORU_R01 or MDM^T02|T04|T10^MDM_T02": "ORU^R01^ORU_R01 ou MDM^T02|T04|T10^MDM_T02",
    "a 15-character INS with a valid key": "un INS de 15 caractères avec une clé valide",
    "a 15-digit INS matricule": "un matricule INS de 15 chiffres",
    "a 15-digit INS with a valid key": "un INS de 15 chiffres avec une clé valide",
    "a CDA R2 ClinicalDocument": "un ClinicalDocument CDA R2",
    "a CDA R2 document": "un document CDA R2",
    "a DICOM KOS with a SOPInstanceUID": "un KOS DICOM avec un SOPInstanceUID",
    "a DSG signature DocumentEntry": "une DocumentEntry de signature DSG",
    "a PID segment": "un segment PID",
    "a PRT with PRT-4 = SB^Send by^participation": "un PRT avec PRT-4 = SB^Send by^participation",
    "a RegistryResponse": "une RegistryResponse",
    "a Retrieve Location UID": "un Retrieve Location UID",
    "a RetrieveDocumentSet of the KOS": "un RetrieveDocumentSet du KOS",
    "a Storage SOP Class UID": "un SOP Class UID de stockage",
    "a Study Instance UID": "un Study Instance UID",
    "a SubmissionSet": "un SubmissionSet",
    "a WADO-RS retrieve": "une récupération WADO-RS",
    "a base64 DER X.509 certificate": "un certificat X.509 DER en base64",
    "a body": "un corps",
    "a certificate OU": "un OU de certificat",
    "a date and time that exist": "une date et une heure qui existent",
    "a document OBX": "un OBX document",
    "a format version (1.0.0)": "une version de format (1.0.0)",
    "a known Storage SOP Class UID": "un SOP Class UID de stockage connu",
    "a known parameter name": "un nom de paramètre connu",
    "a modality code": "un code de modalité",
    "a readable DICOM Part-10 file": "un fichier DICOM Part-10 lisible",
    "a readable ITI-41 request": "une requête ITI-41 lisible",
    "a readable Part-10 instance": "une instance Part-10 lisible",
    "a readable SOAP envelope": "une enveloppe SOAP lisible",
    "a repetition with CX.5 INS": "une répétition avec CX.5 INS",
    "a repetition with CX.5 PI": "une répétition avec CX.5 PI",
    "a report with a qualified INS received before the call": "un CR avec un INS qualifié reçu avant l'appel",
    "a resolvable reference with a base64 digest": "une référence résoluble avec une empreinte base64",
    "a self-signed root with a valid signature": "une racine auto-signée avec une signature valide",
    "a signature that verifies with the KeyInfo certificate": "une signature vérifiée par le certificat KeyInfo",
    "a supported algorithm": "un algorithme pris en charge",
    "a valid DICOM UID": "un UID DICOM valide",
    "a valid UID": "un UID valide",
    "a value": "une valeur",
    "a well-formed XML document": "un document XML bien formé",
    "after the document OBX": "après l'OBX document",
    "an ERR segment": "un segment ERR",
    "an FQDN": "un FQDN",
    "an HL7 ACK": "un ACK HL7",
    "an HTTP answer": "une réponse HTTP",
    "an HTTP request or response": "une requête ou une réponse HTTP",
    "an IMAGE/COMPOSITE item referencing it": "un item IMAGE/COMPOSITE qui le référence",
    "an IPP id": "un identifiant IPP",
    "an ISO 8601 UTC timestamp (YYYY-MM-DDThh:mm:ssZ)": "un horodatage ISO 8601 UTC (AAAA-MM-JJThh:mm:ssZ)",
    "an ISO 8601 UTC timestamp": "un horodatage ISO 8601 UTC",
    "an MSA segment": "un segment MSA",
    "an OID": "un OID",
    "an RSA key": "une clé RSA",
    "an enveloped ds:Signature": "une ds:Signature enveloppée",
    "an integer": "un entier",
    "an issuer OID": "un OID d'émetteur",
    "an original in the source PACS": "un original dans le PACS source",
    "an xsd:dateTime": "un xsd:dateTime",
    "at least one Domaine": "au moins un Domaine",
    "at least one entry with q > 0": "au moins une entrée avec q > 0",
    "at least one instance": "au moins une instance",
    "at least one series item": "au moins un item de série",
    "at least one study item": "au moins un item d'étude",
    "attached document is not readable DICOM": "le document joint n'est pas du DICOM lisible",
    "base64 data": "des données base64",
    "base64 of a PDF": "le base64 d'un PDF",
    "code + translation(s)": "code + traduction(s)",
    "every entry has q=0": "toutes les entrées ont q=0",
    "exclusive or inclusive c14n 1.0": "c14n 1.0 exclusive ou inclusive",
    "file meta information with a TransferSyntaxUID": "des métadonnées de fichier avec un TransferSyntaxUID",
    "installed (apt dicom3tools)": "installé (apt dicom3tools)",
    "issuer signature does not verify": "la signature de l'émetteur ne se vérifie pas",
    "listed in (0040,A375) with the same SOP class": "listé dans (0040,A375) avec la même classe SOP",
    "no 'DICM' prefix at byte 128": "pas de préfixe 'DICM' à l'octet 128",
    "no N3 templateId": "aucun templateId N3",
    "no instance of this study": "aucune instance de cette étude",
    "no other DocumentEntry": "aucune autre DocumentEntry",
    "no xds-b:Document for this entry": "aucun xds-b:Document pour cette entrée",
    "no entry for this patient": "aucune entrée pour ce patient",
    "no DICOM over plain HTTP (refused, redirected or no HTTP answer)":
        "pas de DICOM en HTTP clair (refus, redirection ou aucune réponse HTTP)",
    "none: the patient could not be compared": "aucun : le patient n'a pas pu être comparé",
    "not a decodable PDF": "pas un PDF décodable",
    "not checked: no readable PDF body (see CDA-BODY)": "non vérifié : aucun corps PDF lisible (voir CDA-BODY)",
    "not checked: offline validation has no access to the CRL / OCSP":
        "non vérifié : la validation hors ligne n'a pas accès aux CRL / OCSP",
    "one item (113030, DCM, Manifest)": "un item (113030, DCM, Manifest)",
    "one item with the CR's accession and order": "un item avec le numéro d'accession et la demande du CR",
    "one item with the INS OID (ISO)": "un item avec l'OID de l'INS (ISO)",
    "only instances the KOS references": "uniquement des instances que le KOS référence",
    "parts delimited by the boundary": "des parties délimitées par le boundary",
    "study, series or instance retrieve": "récupération d'une étude, d'une série ou d'une instance",
    "the CDA id": "l'identifiant du CDA",
    "the PACS holds no instance with this SOP Instance UID": "le PACS ne détient aucune instance avec ce SOP Instance UID",
    "the Part-10 KOS": "le KOS Part-10",
    "the SOP Instance UID of the KOS": "le SOP Instance UID du KOS",
    "the accession number": "le numéro d'accession",
    "the capture holds the headers only: parts not checked": "la capture ne contient que les en-têtes : parties non vérifiées",
    "the control id of the message acknowledged": "l'identifiant de contrôle du message acquitté",
    "the digest of a KeyInfo certificate": "l'empreinte d'un certificat KeyInfo",
    "the expected answer in time": "la réponse attendue dans le délai",
    "the id of the replaced CDA": "l'identifiant du CDA remplacé",
    "the placer order number": "le numéro de demande (placer order number)",
    "the sender's national id (or PRT-10 device)": "l'identifiant national de l'émetteur (ou dispositif PRT-10)",
    "the signer certificate digest": "l'empreinte du certificat du signataire",
    "the signer certificate": "le certificat du signataire",
    "the structure id (FINESS géographique...)": "l'identifiant de structure (FINESS géographique...)",
    "the viewer FQDN": "le FQDN du visualiseur",
    "unreadable: no SOP Class / SOP Instance UID could be read": "illisible : aucun SOP Class / SOP Instance UID n'a pu être lu",
    # the oracle, the DMP simulator's answers, the viewer and the supervision probes
    "no dciodvfy warning": "aucun avertissement de dciodvfy",
    "no dciodvfy error": "aucune erreur de dciodvfy",
    "dciodvfy verdict": "le verdict de dciodvfy",
    "no request reached the DMP": "aucune requête n'a atteint le DMP",
    "no study without a session (a login page or a provider choice)":
        "aucun examen sans session (une page de connexion ou un choix de fournisseur)",
    "no client certificate: the DMP requires TLS client authentication with an organisation certificate (IGC-Santé ORG AUTH CLI)":
        "aucun certificat client : le DMP exige l'authentification TLS du client par un certificat de structure "
        "(IGC-Santé ORG AUTH CLI)",
    "SOAP 1.1 envelope; the DMP speaks SOAP 1.2": "enveloppe SOAP 1.1 ; le DMP parle SOAP 1.2",
    "ITI-41 must be sent as MTOM/XOP (multipart/related), not as plain SOAP":
        "l'ITI-41 doit être envoyé en MTOM/XOP (multipart/related), pas en SOAP simple",
    # operating-system reasons of a failed connection (OSError.strerror), inside the phrases below
    "timed out": "délai dépassé",
    "Connection refused": "connexion refusée",
    "Connection reset by peer": "connexion réinitialisée par le pair",
    "Broken pipe": "connexion rompue",
    "No route to host": "aucune route vers l'hôte",
    "Network is unreachable": "réseau injoignable",
    "Name or service not known": "nom ou service inconnu",
    # drimva.reachability's causes (the pre-flight, the server certificate of VA-A, a lost SUT)
    "connection refused": "connexion refusée",
    "connection reset by the server": "connexion réinitialisée par le serveur",
    "connection closed without an HTTP answer": "connexion fermée sans réponse HTTP",
    "no host name": "aucun nom d'hôte",
    "no TLS certificate presented": "aucun certificat TLS présenté",
}

# Formatted phrases: a regex with named groups -> the French, formatted with those groups.
# The groups are data (lists, UIDs, codes) and stay as they are, except those named ``fr_*``,
# which are translated in turn (a phrase inside a phrase).
PATTERNS_FR: list[tuple[re.Pattern[str], str]] = [(re.compile(p, re.DOTALL), fr) for p, fr in (
    (r"^<KOS entry> -> (?P<target>\S+)$", "<entrée KOS> -> {target}"),
    (r"^an http\(s\) URL ending in (?P<suffix>\S+)$", "une URL http(s) se terminant par {suffix}"),
    (r"^one of (?P<ids>.+) \(or set id (?P<sets>.+)\)$", "l'une de {ids} (ou set id {sets})"),
    (r"^one of (?P<list>.+), with a well-formed INS in PID-3$", "l'une de {list}, avec un INS bien formé dans PID-3"),
    (r"^one of (?P<list>.+) \(or 900-905\)$", "l'une de {list} (ou 900-905)"),
    (r"^urn:oid: \+ one of (?P<list>.+)$", "urn:oid: + l'une de {list}"),
    (r"^one of (?P<list>.+)$", "l'une de {list}"),
    (r"^ACK for one of (?P<list>.+)$", "un ACK pour l'un de {list}"),
    (r"^CONTAINER (?P<rel>\S+) one of (?P<list>.+)$", "CONTAINER {rel} l'un de {list}"),
    (r"^an INS OID (?P<list>.+)$", "un OID d'INS {list}"),
    (r"^root in (?P<list>.+)$", "root parmi {list}"),
    (r"^an id other than (?P<id>.+)$", "un identifiant autre que {id}"),
    (r"^a FindDocuments on (?P<id>.+)$", "un FindDocuments sur {id}"),
    (r"^a URL with (?P<a>\S+)= and (?P<b>\S+)=$", "une URL avec {a}= et {b}="),
    (r"^a certificate of the run's CA with OU=(?P<ou>.*)$", "un certificat de l'AC de l'exécution avec OU={ou}"),
    (r"^a valid signature by (?P<who>.+)$", "une signature valide par {who}"),
    (r"^an approved KOS entry for patient (?P<ins>\S+) within (?P<s>\S+) s$",
     "une entrée KOS approuvée pour le patient {ins} dans les {s} s"),
    (r"^200 and a page naming the Study Instance UID (?P<uid>\S+)$", "200 et une page nommant le Study Instance UID {uid}"),
    (r"^200 with a valid token and KOS-SOPInstanceUID (?P<uid>\S+)$", "200 avec un jeton valide et KOS-SOPInstanceUID {uid}"),
    (r"^HTTP (?P<status>\S+), the page names the study (?P<uid>\S+)$", "HTTP {status}, la page nomme l'étude {uid}"),
    (r"^HTTP (?P<status>\S+), JSON status (?P<json>.+), within (?P<s>\S+) s$",
     "HTTP {status}, statut JSON {json}, dans les {s} s"),
    (r"^HTTP (?P<status>\S+): served in clear$", "HTTP {status} : servi en clair"),
    (r"^MIME framing unreadable \((?P<problem>.*)\); the SOAP envelope was read directly$",
     "découpage MIME illisible ({problem}) ; l'enveloppe SOAP a été lue directement"),
    (r"^N, R or V \((?P<oid>.+)\)$", "N, R ou V ({oid})"),
    (r"^after OBX\[(?P<n>\d+)\] (?P<code>.*)$", "après OBX[{n}] {code}"),
    (r"^also in Domaine\[(?P<n>\d+)\]$", "aussi dans Domaine[{n}]"),
    (r"^byte (?P<byte>0x[0-9A-F]{2}) at offset (?P<offset>\d+) is not (?P<codec>\S+) (?P<excerpt>\(.*\))$",
     "l'octet {byte} à la position {offset} n'est pas du {codec} {excerpt}"),
    (r"^bytes valid in (?P<charset>.+) \((?P<codec>.+)\)$", "des octets valides en {charset} ({codec})"),
    (r"^code=(?P<code>.*), (?P<n>\d+) translation\(s\)$", "code={code}, {n} traduction(s)"),
    (r"^empty or (?P<value>.+)$", "vide ou {value}"),
    (r"^found via (?P<how>.*); accession as (?P<form>.*); query keys (?P<keys>.*)$",
     "trouvée par {how} ; accession sous la forme {form} ; clés de requête {keys}"),
    (r"^instance (?P<sop>\S+) retrieved$", "instance {sop} récupérée"),
    (r"^issuer (?P<who>.+), serial (?P<serial>\S+)$", "émetteur {who}, numéro de série {serial}"),
    (r"^issuer (?P<who>.+)$", "émetteur {who}"),
    (r"^missing (?P<what>.+)$", "manquant : {what}"),
    (r"^no C-FIND on this study within (?P<s>\S+) s \((?P<n>\d+) DICOM requests seen in the run\)$",
     "aucun C-FIND sur cette étude dans les {s} s ({n} requêtes DICOM vues pendant l'exécution)"),
    (r"^no URL found \((?P<detail>.*)\)$", "aucune URL trouvée ({detail})"),
    (r"^not after the receipt (?P<at>\S+) \(UTC, \+ 5 min\)$", "pas après la réception {at} (UTC, + 5 min)"),
    (r"^pixel data SHA-256 (?P<digest>\S+)$", "données de pixels SHA-256 {digest}"),
    (r"^segments (?P<list>.+)$", "segments {list}"),
    (r"^valid at (?P<at>\S+)$", "valide au {at}"),
    (r"^(?P<a>.+) signed by (?P<b>.+)$", "{a} signé par {b}"),
    (r"^(?P<type>\S+) \(sent (?P<sent>\S+)\)$", "{type} (envoyé : {sent})"),
    (r"^(?P<value>.+) \((?P<field>\S+) of the reports\)$", "{value} ({field} des CR)"),
    (r"^(?P<modality>\S+) with scheme (?P<schemes>.+)$", "{modality} avec le schéma {schemes}"),
    (r"^(?P<key>\S+) (?P<value>\S+) used once$", "{key} {value} utilisé une seule fois"),
    (r"^(?P<n>\d+) successful ITI-18 for other patients$", "{n} ITI-18 réussi(s) pour d'autres patients"),
    (r"^(?P<n>\d+) entries with parameters only, e\.g\. (?P<raw>.+)$", "{n} entrées avec des paramètres seuls, p. ex. {raw}"),
    (r"^(?P<n>\d+) request\(s\): (?P<rest>.*)$", "{n} requête(s) : {rest}"),
    (r"^(?P<n>\d+) PRT, none SB$", "{n} PRT, aucun SB"),
    (r"^(?P<n>\d+) instance\(s\)$", "{n} instance(s)"),
    (r"^(?P<n>\d+) items$", "{n} items"),
    (r"^(?P<path>.+) \(no trusted root reached\)$", "{path} (aucune racine de confiance atteinte)"),
    (r"^(?P<path>.+): verified inside KeyInfo only \(no trusted roots given\)$",
     "{path} : vérifié dans KeyInfo seulement (aucune racine de confiance fournie)"),
    (r"^(?P<request>.+) \(Accept: (?P<accept>.*)\): (?P<kind>.*), not a WADO-RS retrieve; not judged$",
     "{request} (Accept: {accept}) : {kind}, pas une récupération WADO-RS ; non jugé"),
    (r"^(?P<sop>\S+) is not in the KOS$", "{sop} n'est pas dans le KOS"),
    (r"^(?P<level>\S+) level$", "niveau {level}"),
    (r"^verification failed: (?P<fr_rest>.*)$", "échec de la vérification : {fr_rest}"),
    (r"^unreadable: (?P<rest>.*)$", "illisible : {rest}"),
    (r"^no ACK: (?P<fr_rest>.*)$", "aucun ACK : {fr_rest}"),
    (r"^no ACK from (?P<peer>\S+) within (?P<s>\S+) s$", "aucun ACK de {peer} dans les {s} s"),
    (r"^no HTTP answer from (?P<url>\S+): (?P<rest>.*)$", "aucune réponse HTTP de {url} : {rest}"),
    (r"^no HTTP answer within (?P<s>\S+) s$", "aucune réponse HTTP dans les {s} s"),
    (r"^no HTTP answer: (?P<fr_rest>.*)$", "aucune réponse HTTP : {fr_rest}"),
    # drimva.reachability's causes, stage by stage
    (r"^timed out after (?P<s>\S+) s$", "délai dépassé après {s} s"),
    (r"^(?P<host>\S+) does not resolve \((?P<fr_reason>.*)\)$", "{host} ne se résout pas ({fr_reason})"),
    (r"^(?P<host>\S+) does not resolve$", "{host} ne se résout pas"),
    (r"^resolving (?P<host>\S+) timed out after (?P<s>\S+) s$", "résolution de {host} : délai dépassé après {s} s"),
    (r"^TLS: certificate verify failed: (?P<detail>.*)$", "TLS : certificat refusé à la vérification : {detail}"),
    (r"^TLS: handshake failed: (?P<fr_detail>.*)$", "TLS : échec de la négociation : {fr_detail}"),
    (r"^TLS: no handshake within (?P<s>\S+) s$", "TLS : aucune négociation dans les {s} s"),
    (r"^the answer is not HTTP \((?P<detail>.*)\)$", "la réponse n'est pas du HTTP ({detail})"),
    (r"^no whole HTTP answer head within (?P<s>\S+) s \(bytes came too slowly\)$",
     "en-tête de réponse HTTP incomplet après {s} s (octets reçus trop lentement)"),
    # the RIS simulator's MLLP exchange (drimva.mllp), after "no ACK: "
    (r"^connection closed by (?P<peer>\S+) without an ACK \((?P<n>\d+) byte\(s\) of an unfinished frame\)$",
     "connexion fermée par {peer} sans ACK ({n} octet(s) d'une trame inachevée)"),
    (r"^connection closed by (?P<peer>\S+) without an ACK$", "connexion fermée par {peer} sans ACK"),
    (r"^cannot connect to (?P<peer>\S+): (?P<fr_reason>.*)$", "connexion impossible à {peer} : {fr_reason}"),
    (r"^connection to (?P<peer>\S+) failed: (?P<fr_reason>.*)$", "échec de la connexion à {peer} : {fr_reason}"),
    (r"^answer from (?P<peer>\S+) is not MLLP: (?P<detail>.*)$", "la réponse de {peer} n'est pas du MLLP : {detail}"),
    # the supervision probes (simulators.supervision.prober), "<problem> (<seconds> s)"
    (r"^(?P<fr_problem>.+) \((?P<s>\d+\.\d+) s\)$", "{fr_problem} ({s} s)"),
    (r"^JSON status (?P<actual>.+), expected (?P<expected>.+)$", "statut JSON {actual}, {expected} attendu"),
    (r"^HTTP (?P<actual>\d+), expected (?P<expected>\d+)$", "HTTP {actual}, {expected} attendu"),
    (r"^answered after (?P<s>\S+) s \(limit (?P<limit>\S+) s\)$", "réponse après {s} s (limite {limit} s)"),
    (r"^no answer within (?P<s>\S+) s$", "aucune réponse dans les {s} s"),
    (r"^the answer is not JSON: (?P<body>.*)$", "la réponse n'est pas du JSON : {body}"),
    (r"^the JSON answer is not an object: (?P<kind>.*)$", "la réponse JSON n'est pas un objet : {kind}"),
    # the viewer (drimva.rules.viewer)
    (r"^a redirect \(or a link\) to the login page of (?P<issuer>\S+)$",
     "une redirection (ou un lien) vers la page de connexion de {issuer}"),
    (r"^HTTP (?P<status>\S+) at (?P<url>\S+)$", "HTTP {status} à {url}"),
    # the DMP simulator's SOAP faults
    (r"^VIHF assertion not valid \((?P<fr_why>[^)]*)\): (?P<location>\S+) = (?P<actual>\S*), expected (?P<fr_expected>.+)$",
     "assertion VIHF non valide ({fr_why}) : {location} = {actual}, attendu : {fr_expected}"),
    (r"^within (?P<h>\d+) h before the receipt (?P<at>\S+) \(no Conditions\)$",
     "dans l'heure ({h} h) précédant la réception {at} (sans Conditions)"),
    (r"^after the receipt (?P<at>\S+)$", "après la réception {at}"),
    (r"^not after the receipt (?P<at>\S+)$", "pas après la réception {at}"),
    (r"^not after the receipt (?P<at>\S+) \(\+(?P<min>\d+) min\)$", "pas après la réception {at} (+{min} min)"),
    (r"^(?P<what>\S+) cannot be read: (?P<detail>.*)$", "{what} illisible : {detail}"),
    (r"^request cannot be read: (?P<detail>.*)$", "requête illisible : {detail}"),
    (r"^\[Errno (?P<n>\d+)\] (?P<fr_reason>.*)$", "[Errno {n}] {fr_reason}"),
    (r"^status (?P<a>\S+) or (?P<b>\S+)$", "statut {a} ou {b}"),
    (r"^still (?P<status>\S+) after (?P<s>\S+) s; (?P<fr_seen>.*)$", "toujours {status} après {s} s ; {fr_seen}"),
    # an exception's text (``Kind: message``): French frame, the message as the library wrote it
    (r"^(?P<kind>[A-Z][A-Za-z]*(?:Error|Exception|Timeout|Refused)): (?P<fr_message>.*)$", "erreur {kind} : {fr_message}"),
)]

# Single words of the phrases above that are read as French on their own (PATTERNS' ``fr_*`` groups).
_WORDS_FR = {"expired": "expirée", "not yet valid": "pas encore valide", "form": "forme", "window": "fenêtre"}

# What reached the DMP (drimva.rules.publication.submissions_summary): "<action> -> <status> (<reason>)" | …
_SUBMISSION = re.compile(r"^(?P<action>\S+) -> (?P<status>\S+)(?: \((?P<reason>.*)\))?$", re.DOTALL)

# The locations of findings that are words rather than paths (the paths - HL7 fields, DICOM tags, XPath - stay).
LOCATIONS_FR: dict[str, str] = {
    "HTTP status": "statut HTTP",
    "DMP registry (ITI-41)": "registre du DMP (ITI-41)",
    "DMP repository": "dépôt du DMP",
    "DICOM node C-STORE": "nœud DICOM (C-STORE)",
    "A-ASSOCIATE-RQ calling AE title": "AE title appelant de l'A-ASSOCIATE-RQ",
    "PACS C-FIND identifier (0020,000D)": "identifiant de la requête C-FIND au PACS (0020,000D)",
    "(file)": "(fichier)",
}
# What a security probe of the source DRIMbox leaves out (steps/source.py), in "GET … without <names>".
_OMITTED_FR = {"token": "jeton", "kos_header": "en-tête KOS-SOPInstanceUID", "tls": "TLS"}
LOCATION_PATTERNS_FR: list[tuple[re.Pattern[str], str]] = [(re.compile(p, re.DOTALL), fr) for p, fr in (
    (r"^(?P<fr_where>.+) \(probe (?P<n>\d+)\)$", "{fr_where} (sonde {n})"),
    (r"^(?P<fr_where>.+) at (?P<at>\d\d:\d\d:\d\d)$", "{fr_where} à {at}"),
    (r"^(?P<url>\S+) \(background, every (?P<s>\S+) s, (?P<folder>\S+)\)$", "{url} (en arrière-plan, toutes les {s} s, {folder})"),
    (r"^(?P<request>GET \S+) without a valid request element$", "{request} sans élément de requête valide"),
    (r"^(?P<request>GET \S+) without (?P<what>.+)$", "{request} sans {what}"),  # the names of what was left out
    (r"^TLS server certificate of (?P<peer>\S+)$", "certificat serveur TLS de {peer}"),
    (r"^registry entry (?P<uuid>\S+)$", "entrée du registre {uuid}"),
    (r"^WADO-RS to (?P<url>\S+)$", "WADO-RS vers {url}"),
)]

# Rules whose actual value is a tool's own message, quoted in a French frame when no phrase above matches.
TOOL_MESSAGES = {"DCIODVFY": "dciodvfy"}


# Alternatives joined by " or " (e.g. "200 or 206", "POST or GET"): each alternative is data.
_ALTERNATIVES = re.compile(r"\S+(?: or \S+)+")


def value_fr(text: str, rule: str = "") -> str:
    """``text``, an expected or actual value of a finding (of ``rule``), in French; unchanged when it is data."""
    french = _phrase_fr(text)
    if french is not None:
        return french
    submissions = [_SUBMISSION.match(part) for part in text.split(" | ")]
    if " -> " in text and all(submissions):
        return " | ".join(_submission_fr(match) for match in submissions if match)
    if _ALTERNATIVES.fullmatch(text):
        return text.replace(" or ", " ou ")
    tool = TOOL_MESSAGES.get(rule)
    if tool and text.strip() and not text.startswith("("):
        return f"message de {tool} : « {text} »"
    return text


def location_fr(text: str) -> str:
    """The location of a finding in French where it is words (a path, a field, a tag stays as it is)."""
    exact = LOCATIONS_FR.get(text)
    if exact is not None:
        return exact
    for pattern, french in LOCATION_PATTERNS_FR:
        match = pattern.match(text)
        if match:
            groups = {name: location_fr(value) if name.startswith("fr_") else value for name, value in match.groupdict().items()}
            if "what" in groups:
                groups["what"] = ", ".join(_OMITTED_FR.get(name, name) for name in groups["what"].split(", "))
            return french.format(**groups)
    return text


def reason_fr(text: str) -> str:
    """Why a scenario ended without a verdict (skip reason, harness error): its English parts in French.

    The reasons are French already ("bloqué par : …", "non sélectionné …") but may end with what a library
    or a simulator said (``— ConnectError: …``); an exception's ``Kind: message`` gets a French frame."""
    if text.startswith(REASON_PREFIX):  # drimva.preflight's reason: each address's cause in turn
        parts = text[len(REASON_PREFIX):].split(REASON_SEPARATOR)
        return REASON_PREFIX + REASON_SEPARATOR.join(reason_fr(part) for part in parts)
    head, dash, tail = text.partition(" — ")
    if dash:
        return f"{head}{dash}{value_fr(tail)}"
    return value_fr(text)



def _phrase_fr(text: str) -> str | None:
    exact = EXACT_FR.get(text) or _WORDS_FR.get(text)
    if exact is not None:
        return exact
    for pattern, french in PATTERNS_FR:
        match = pattern.match(text)
        if match:
            groups = {name: value_fr(value) if name.startswith("fr_") else value
                      for name, value in match.groupdict().items()}
            return french.format(**groups)
    return None


def _submission_fr(match: re.Match[str]) -> str:
    reason = match.group("reason")
    answer = f"{match.group('action')} -> {match.group('status')}"
    return f"{answer} (motif : {value_fr(reason)})" if reason else answer
