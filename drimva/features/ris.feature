# language: fr
@ris
Fonctionnalité: Le RIS alimente la DRIMbox (le RIS est le système testé)
  Le banc joue la DRIMbox : la DRIMbox source reçoit en HL7 v2 sur MLLP les
  comptes rendus (CR) que le RIS transmet (volet CI-SIS « Transmission d'un
  document CDA-R2 en HL7v2 » 2.1) et les acquitte, la DRIMbox consommatrice
  reçoit l'appel contextuel du RIS. Chaque message est conservé dans les
  preuves puis jugé : message HL7, CDA du CR, identité, cohérence de la session.

  @RIS-1 @HL7-ORU-R01 @HL7-MDM-T02 @HL7-ACK @CDA @id:RIS1-INITIAL
  Scénario: Le RIS transmet un CR initial conforme
    Quand le RIS transmet un CR initial (ORU^R01 ou MDM^T02)
    Alors le CR reçu est conforme et la DRIMbox l'acquitte AA

  @RIS-2 @remplacement @HL7-ORU-R01 @HL7-MDM-T10 @id:RIS2-REPLACE
  Scénario: Le RIS transmet un CR corrigé qui remplace le CR initial
    Étant donné le CR initial reçu de ce RIS
    Quand le RIS transmet le CR corrigé (ORU^R01 OBX-11 « C » ou MDM^T10)
    Alors le CR reçu est conforme et la DRIMbox l'acquitte AA
    Et le CR corrigé remplace le CR initial (même patient, même examen, lien RPLC)

  @RIS-3 @suppression @HL7-ORU-R01 @HL7-MDM-T04 @id:RIS3-DELETE
  Scénario: Le RIS transmet la suppression du CR
    Étant donné le CR initial reçu de ce RIS
    Quand le RIS transmet la suppression du CR (ORU^R01 OBX-11 « D » ou MDM^T04)
    Alors le CR reçu est conforme et la DRIMbox l'acquitte AA
    Et la suppression désigne un CR transmis dans la session (même patient, même examen)

  @RIS-4 @appel-contextuel @id:RIS4-CONTEXTUAL
  Scénario: Le RIS fait un appel contextuel pour le patient de ses CR
    Étant donné le CR initial reçu de ce RIS
    Quand le RIS fait un appel contextuel à la DRIMbox consommatrice
    Alors l'appel contextuel porte les dix paramètres obligatoires, bien formés, pour le patient du CR, et la DRIMbox le redirige (303)
