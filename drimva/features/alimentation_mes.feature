# language: fr
@source
Fonctionnalité: Alimentation de Mon espace santé par la DRIMbox source
  Le RIS transmet le compte rendu d'imagerie (CR) à la DRIMbox en HL7 v2
  (volet CI-SIS « Transmission d'un document CDA-R2 en HL7v2 » 2.1) ;
  la DRIMbox lit l'examen dans le PACS, construit le KOS et le publie dans
  le DMP (ITI-41, TLS mutuel avec le certificat logiciel de la structure).

  Contexte:
    Étant donné un patient dont l'INS est qualifiée

  @VA-B1 @HL7-ORU-R01 @HL7-ACK @id:B1-ORU
  Scénario: Le CR transmis en ORU^R01 est reçu et acquitté
    Étant donné un examen de ce patient archivé dans le PACS
    Quand le RIS transmet le CR en ORU^R01
    Alors la DRIMbox renvoie un acquittement technique AA conforme

  @VA-B1 @HL7-MDM-T02 @HL7-ACK @id:B1-MDM
  Scénario: Le CR transmis en MDM^T02 est reçu et acquitté
    Étant donné un examen de ce patient archivé dans le PACS
    Quand le RIS transmet le CR en MDM^T02
    Alors la DRIMbox renvoie un acquittement technique AA conforme

  @VA-B1 @HL7-ACK @erreur @id:B1-MALFORMED
  Scénario: Un CR mal formé est refusé par un acquittement d'erreur et rien n'est publié
    Étant donné un examen de ce patient archivé dans le PACS
    Et le CR transmis sans segment PID (message mal formé)
    Quand le RIS transmet le CR en ORU^R01
    Alors la DRIMbox refuse le CR par un acquittement AE ou AR avec un segment ERR
    Et aucun KOS n'est publié dans le DMP pour ce patient

  @VA-B1 @HL7-ACK @erreur @id:B1-UNREADABLE
  Scénario: Un CR dont le document CDA est illisible est refusé par un acquittement d'erreur et rien n'est publié
    Étant donné un examen de ce patient archivé dans le PACS
    Et le CR transmis avec un document CDA illisible
    Quand le RIS transmet le CR en ORU^R01
    Alors la DRIMbox refuse le CR par un acquittement AE ou AR avec un segment ERR
    Et aucun KOS n'est publié dans le DMP pour ce patient

  @VA-B2 @DICOM-CFIND @id:B2-CFIND
  Scénario: La DRIMbox interroge le PACS sur l'examen du CR
    Étant donné un examen de ce patient archivé dans le PACS
    Quand le RIS transmet le CR en ORU^R01
    Alors le PACS a reçu de la DRIMbox une requête C-FIND sur l'examen du CR
    Et le KOS publié reprend les métadonnées de l'examen lues dans le PACS

  @VA-B2 @DICOM-CFIND @identite @id:B2-CR-PACS-DIFFER
  Scénario: Quand le CR et le PACS diffèrent, le KOS prend l'examen au PACS et le patient au CR
    Étant donné un examen de ce patient archivé dans le PACS sous son nom d'usage, autre que le nom de naissance du CR
    Quand le RIS transmet le CR en ORU^R01
    Alors le KOS publié reprend les métadonnées de l'examen lues dans le PACS
    Et le KOS publié porte l'identité du patient, le numéro d'accession et la demande transmis dans le CR

  @VA-B2 @DICOM-CFIND @id:B2-ACCESSION-DIFFERS
  Scénario: Quand le PACS porte un autre numéro d'accession que le CR, le KOS porte celui du CR ou rien n'est publié
    Étant donné un examen de ce patient archivé dans le PACS sous un autre numéro d'accession que celui du CR
    Quand le RIS transmet le CR en ORU^R01
    Alors la DRIMbox renvoie un acquittement technique
    Et le KOS publié porte le numéro d'accession du CR, ou aucun KOS n'est publié si le profil le prévoit

  @VA-B2 @DICOM-CFIND @non-image @id:B2-NON-IMAGE
  Scénario: Le KOS référence aussi les objets non-image de l'examen, un état de présentation et un SR, sauf si le profil admet de les omettre
    Étant donné un examen de ce patient archivé dans le PACS avec un état de présentation et un SR en plus des images
    Quand le RIS transmet le CR en ORU^R01
    Alors le KOS publié reprend les métadonnées de l'examen lues dans le PACS
    Et le KOS référence chaque objet de l'examen, ou ses images au moins si le profil le prévoit, avec sa classe SOP et le type de valeur qui lui revient

  @VA-B3 @KOS @XDS-ITI-41 @VIHF @id:B3-KOS
  Scénario: Le KOS est publié dans le DMP avec le certificat de la structure
    Étant donné un examen de ce patient archivé dans le PACS
    Et le CR masqué au patient (indicateur MetaDMPMSS INVISIBLE_PATIENT à « Y »)
    Quand le RIS transmet le CR en ORU^R01
    Alors un KOS est publié dans le DMP sous le certificat d'authentification de la structure
    Et le KOS est conforme et référence toutes les instances de l'examen
    Et les métadonnées XDS de la publication sont conformes
    Et l'assertion VIHF de la publication est signée et conforme
    Et le KOS passe la validation dciodvfy

  @VA-B3 @remplacement @XDS-RPLC @HL7-MDM-T10 @id:B3-RPLC-MDM
  Scénario: Le CR corrigé transmis en MDM^T10 remplace le KOS publié
    Étant donné un examen de ce patient archivé dans le PACS
    Et le CR de cet examen déjà publié
    Quand le RIS transmet le CR corrigé en MDM^T10
    Alors la DRIMbox renvoie un acquittement technique AA conforme
    Et un nouveau KOS conforme remplace le précédent dans le DMP

  @VA-B3 @remplacement @XDS-RPLC @HL7-ORU-R01 @id:B3-RPLC-ORU
  Scénario: Le CR corrigé transmis en ORU^R01 remplace le KOS publié
    Étant donné un examen de ce patient archivé dans le PACS
    Et le CR de cet examen déjà publié
    Quand le RIS transmet le CR corrigé en ORU^R01
    Alors la DRIMbox renvoie un acquittement technique AA conforme
    Et un nouveau KOS conforme remplace le précédent dans le DMP

  @VA-B3 @remplacement @XDS-RPLC @HL7-MDM-T10 @id:B3-RPLC-TWICE
  Scénario: Un second CR corrigé remplace le KOS de la première correction
    Étant donné un examen de ce patient archivé dans le PACS
    Et le CR de cet examen déjà publié
    Et le CR de cet examen déjà corrigé une première fois
    Quand le RIS transmet le CR corrigé en MDM^T10
    Alors la DRIMbox renvoie un acquittement technique AA conforme
    Et un nouveau KOS conforme remplace le précédent dans le DMP

  @VA-B3 @remplacement @XDS-RPLC @HL7-MDM-T10 @plusieurs-examens @id:B3-RPLC-TWO-STUDIES
  Scénario: Le CR corrigé d'un des deux examens du patient remplace le seul KOS de cet examen
    Étant donné un examen de ce patient archivé dans le PACS
    Et le CR de cet examen déjà publié
    Et un second examen du même patient archivé dans le PACS et son CR déjà publié
    Quand le RIS transmet le CR corrigé en MDM^T10
    Alors la DRIMbox renvoie un acquittement technique AA conforme
    Et le KOS du second examen reste publié, intact, et ne référence que son examen
    Et un nouveau KOS conforme remplace le précédent dans le DMP

  @VA-B3 @remplacement @XDS-RPLC @IOCM @id:B3-IOCM
  Scénario: Une note de rejet IOCM du PACS fait remplacer le KOS publié par un KOS sans l'instance rejetée
    Étant donné un examen de ce patient archivé dans le PACS
    Et le CR de cet examen déjà publié
    Quand le PACS rejette une instance de l'examen et en envoie la note de rejet IOCM à la DRIMbox
    Alors la DRIMbox accepte la note de rejet IOCM
    Et un nouveau KOS conforme remplace le précédent dans le DMP

  @VA-B3 @suppression @XDS-ITI-57 @HL7-ORU-R01 @id:B3-DEL-ORU
  Scénario: La suppression du CR transmise en ORU^R01 retire le KOS publié
    Étant donné un examen de ce patient archivé dans le PACS
    Et le CR de cet examen déjà publié
    Quand le RIS transmet la suppression du CR en ORU^R01
    Alors la DRIMbox renvoie un acquittement technique AA conforme
    Et le KOS précédemment publié n'est plus disponible dans le DMP

  @VA-B3 @suppression @XDS-ITI-57 @HL7-MDM-T04 @id:B3-DEL-MDM
  Scénario: La suppression du CR transmise en MDM^T04 retire le KOS publié
    Étant donné un examen de ce patient archivé dans le PACS
    Et le CR de cet examen déjà publié
    Quand le RIS transmet la suppression du CR en MDM^T04
    Alors la DRIMbox renvoie un acquittement technique AA conforme
    Et le KOS précédemment publié n'est plus disponible dans le DMP

  @VA-B3 @identite @INS @id:B3-UNQUALIFIED
  Scénario: Aucun KOS n'est publié pour une identité non qualifiée
    Étant donné un examen de ce patient archivé dans le PACS
    Et l'identité du patient transmise comme provisoire (PID-32 « PROV »)
    Quand le RIS transmet le CR en ORU^R01
    Alors la DRIMbox renvoie un acquittement technique
    Et aucun KOS n'est publié dans le DMP pour ce patient

  @VA-B3 @securite @DESTDMP @id:B3-DESTDMP
  Scénario: Aucun KOS n'est publié pour un CR que le RIS ne destine pas au DMP
    Étant donné un examen de ce patient archivé dans le PACS
    Et le CR non destiné au DMP (indicateur MetaDMPMSS DESTDMP à « N »)
    Quand le RIS transmet le CR en ORU^R01
    Alors la DRIMbox renvoie un acquittement technique
    Et aucun KOS n'est publié dans le DMP pour ce patient

  @VA-B3 @pacs @id:B3-UNKNOWN-STUDY
  Scénario: Aucun KOS n'est publié pour un examen inconnu du PACS
    Étant donné un examen de ce patient absent du PACS
    Quand le RIS transmet le CR en ORU^R01
    Alors la DRIMbox renvoie un acquittement technique
    Et aucun KOS n'est publié dans le DMP pour ce patient
