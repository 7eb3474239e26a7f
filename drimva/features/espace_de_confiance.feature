# language: fr
Fonctionnalité: Espace de confiance DRIM-M (liste blanche)
  La DRIMbox est inscrite dans l'espace de confiance DRIM-M : la liste
  blanche signée nomme son adresse (db) et le DN de son certificat
  d'opérateur. Consommatrice, elle n'échange qu'avec les DRIMbox de la liste,
  et rejette une liste corrompue ou non signée en gardant la dernière valide.

  @VA-A @source @id:A-LISTED
  Scénario: La DRIMbox figure dans la liste blanche avec un certificat serveur conforme
    Alors l'adresse de la DRIMbox figure dans la liste blanche
    Et le certificat serveur présenté par la DRIMbox a le DN déclaré dans la liste blanche

  @VA-A @consumer @id:A-UNTRUSTED
  Scénario: La DRIMbox refuse une DRIMbox source absente de la liste blanche
    Étant donné un examen publié dans le DMP par une DRIMbox source absente de la liste blanche
    Quand le professionnel ouvre le dossier du patient par un appel contextuel
    Alors la DRIMbox source absente de la liste blanche ne reçoit aucune requête
    Et le nœud DICOM ne reçoit aucune image de cet examen

  @VA-A @consumer @id:A-CORRUPTED
  Scénario: La DRIMbox rejette une liste blanche corrompue
    Étant donné un examen publié dans le DMP par une DRIMbox source absente de la liste blanche
    Et une liste blanche corrompue qui ajoute cette DRIMbox source
    Quand le professionnel ouvre le dossier du patient par un appel contextuel
    Alors la DRIMbox source absente de la liste blanche ne reçoit aucune requête

  @VA-A @consumer @id:A-UNSIGNED
  Scénario: La DRIMbox rejette une liste blanche non signée
    Étant donné un examen publié dans le DMP par une DRIMbox source absente de la liste blanche
    Et une liste blanche non signée qui ajoute cette DRIMbox source
    Quand le professionnel ouvre le dossier du patient par un appel contextuel
    Alors la DRIMbox source absente de la liste blanche ne reçoit aucune requête
