# language: fr
@consumer
Fonctionnalité: DRIMbox consommatrice : du DMP aux images, jusqu'au nœud DICOM
  Un professionnel connecté à Pro Santé Connect ouvre le dossier d'un patient
  par un appel contextuel ; la DRIMbox consommatrice interroge le DMP (ITI-18),
  récupère le KOS (ITI-43), récupère chaque série auprès de la DRIMbox source
  (WADO-RS, jeton et en-tête KOS-SOPInstanceUID) et envoie l'examen au nœud
  DICOM configuré.

  Contexte:
    Étant donné un examen publié dans le DMP par une DRIMbox source de la liste blanche

  @VA-D1 @appel-contextuel @id:D1-CALL
  Scénario: L'appel contextuel est accepté et la DRIMbox consulte le DMP
    Quand le professionnel ouvre le dossier du patient par un appel contextuel
    Alors la DRIMbox redirige le navigateur (302 ou 303)
    Et le DMP a reçu une recherche ITI-18 sur l'INS du patient puis une récupération ITI-43 du KOS

  @VA-D1 @appel-contextuel @id:D1-CALL-MISSING
  Scénario: L'appel contextuel incomplet est refusé
    Quand l'appel contextuel omet le paramètre « Patient.birthDate »
    Alors la DRIMbox répond 400

  @VA-D1 @appel-contextuel @id:D1-CALL-EMPTY
  Scénario: L'appel contextuel avec un paramètre vide est refusé
    Quand l'appel contextuel laisse vide le paramètre « Patient.name.family »
    Alors la DRIMbox répond 400

  @VA-D2 @WADO-RS @id:D2-SERIES
  Scénario: Chaque série est récupérée auprès de la DRIMbox source avec un jeton valide et l'en-tête KOS
    Quand le professionnel ouvre le dossier du patient par un appel contextuel
    Alors la DRIMbox source reçoit une requête WADO-RS pour chaque série du KOS, avec un jeton valide et l'en-tête KOS

  @VA-D3 @DICOM-CSTORE @id:D3-FORWARD
  Scénario: L'examen complet est transmis intact au nœud DICOM
    Quand le professionnel ouvre le dossier du patient par un appel contextuel
    Alors le nœud DICOM reçoit toutes les instances de l'examen, à l'identique
