# language: fr
@source
Fonctionnalité: Visualisation d'un examen depuis l'URL du compte rendu
  Le CR porte l'URL de la visionneuse de la DRIMbox source (IHE Invoke Image
  Display). Ouverte dans un navigateur, elle renvoie vers Pro Santé Connect
  (professionnel) ou FranceConnect+ (patient), puis la visionneuse montre
  l'examen du CR, au seul patient de l'examen et aux professionnels.

  Contexte:
    Étant donné un patient dont l'INS est qualifiée
    Et un examen de ce patient archivé dans le PACS
    Et le CR de cet examen déjà publié

  @VA-C2 @PSC @id:C2-PSC
  Scénario: Un professionnel ouvre l'examen depuis l'URL du CR avec Pro Santé Connect
    Quand un professionnel ouvre l'URL de visualisation du CR et se connecte avec Pro Santé Connect
    Alors la visionneuse montre l'examen du CR

  @VA-C1 @FranceConnect @id:C1-FRANCECONNECT
  Scénario: Le patient ouvre son examen depuis l'URL du CR avec FranceConnect+
    Quand le patient ouvre l'URL de visualisation du CR et se connecte avec FranceConnect+
    Alors la visionneuse montre l'examen du CR

  @VA-C1 @VA-C2 @securite @id:C-NO-SESSION
  Scénario: Sans session, la visionneuse ne montre pas l'examen
    Quand un navigateur sans session ouvre l'URL de visualisation du CR
    Alors la visionneuse ne montre pas l'examen et renvoie vers un fournisseur d'identité

  @VA-C1 @securite @id:C1-OTHER-PATIENT
  Scénario: Un patient connecté sous une autre identité n'accède pas à l'examen
    Quand un autre patient ouvre l'URL de visualisation du CR et se connecte avec FranceConnect+
    Alors la visionneuse refuse l'accès à l'examen

  @VA-C2 @securite @id:C2-ISSUER
  Scénario: Un jeton d'un émetteur inconnu n'ouvre pas la visionneuse
    Quand un professionnel présente à la visionneuse un jeton d'un émetteur inconnu
    Alors la visionneuse refuse l'accès à l'examen
