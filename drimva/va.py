"""The VA checklist (AF-IMG-DB-Va2 §4.4), as the reports name it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VaItem:
    id: str
    label: str  # French, as on the client's attestation
    needs_ris_vague2: bool  # deferred when the client's RIS is not yet vague 2
    # what the SUT must claim for the item to apply (Profile.claims): "source", "consumer", "viewer", "supervision"
    claims: tuple[str, ...] = ()


VA_ITEMS: tuple[VaItem, ...] = (
    VaItem("VA-A", "Inscription dans l'espace de confiance DRIM-M (URL attribuée, certificat serveur)", False),
    VaItem("VA-B1", "Connexion avec le RIS : réception du compte rendu (HL7 v2 ORU^R01 / MDM^T02)", True, ("source",)),
    VaItem("VA-B2", "Connexion avec le PACS : réception des métadonnées de l'examen (C-FIND, C-MOVE)", True, ("source",)),
    VaItem("VA-B3", "Connexion à Mon espace santé : publication du KOS (authentification par certificat logiciel)", True, ("source",)),
    VaItem("VA-C1", "Visualisation par le patient depuis l'URL du CR (FranceConnect+)", True, ("source", "viewer")),
    VaItem("VA-C2", "Visualisation par un professionnel de santé depuis l'URL du CR (Pro Santé Connect)", True, ("source", "viewer")),
    VaItem("VA-D1", "DRIMbox consommatrice : consultation du DMP et récupération d'un KOS", False, ("consumer",)),
    VaItem("VA-D2", "DRIMbox consommatrice : récupération des images auprès de la DRIMbox source", False, ("consumer",)),
    VaItem("VA-D3", "DRIMbox consommatrice : envoi des images vers un nœud DICOM configuré", False, ("consumer",)),
    VaItem("VA-E", "DRIMbox source : mise à disposition d'un examen à une DRIMbox consommatrice", True, ("source",)),
    VaItem("VA-F", "Réponse à l'outil de supervision de l'ANS", False, ("supervision",)),
)

VA_BY_ID = {item.id: item for item in VA_ITEMS}

# When the RIS is the system under test (``drimva ris``): what the RIS-side half-connector
# must do for the DRIMbox's VA items B1/B3 and for the contextual call (AF-IMG-DB-Va2 §1.2, §4.4).
RIS_ITEMS: tuple[VaItem, ...] = (
    VaItem("RIS-1", "RIS : transmission du compte rendu à la DRIMbox (ORU^R01 / MDM^T02), acquitté AA", False),
    VaItem("RIS-2", "RIS : remplacement du compte rendu (ORU^R01 OBX-11 « C » / MDM^T10)", False),
    VaItem("RIS-3", "RIS : suppression du compte rendu (ORU^R01 OBX-11 « D » / MDM^T04)", False),
    VaItem("RIS-4", "RIS : appel contextuel de la DRIMbox consommatrice (dix paramètres obligatoires)", False),
)
