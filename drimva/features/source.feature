# language: fr
@source
Fonctionnalité: DRIMbox source : mise à disposition d'un examen à une DRIMbox consommatrice
  Une DRIMbox consommatrice récupère, par WADO-RS, les séries d'un examen que
  la DRIMbox testée a publié dans le DMP ; la DRIMbox source exige un jeton
  Pro Santé Connect valide et l'en-tête KOS-SOPInstanceUID d'un KOS qui
  référence la série.

  Contexte:
    Étant donné un patient dont l'INS est qualifiée
    Et un examen de ce patient archivé dans le PACS
    Et le CR de cet examen déjà publié

  @VA-E @WADO-RS @id:E-SERIES
  Scénario: Une DRIMbox consommatrice récupère chaque série d'un examen publié par la DRIMbox source
    Quand une DRIMbox consommatrice récupère chaque série du KOS publié
    Alors chaque série est servie et les instances reçues sont celles du KOS, identiques à celles du PACS

  @VA-E @securite @id:E-NO-TOKEN
  Scénario: La DRIMbox source refuse une requête sans jeton
    Quand une DRIMbox consommatrice demande une série du KOS sans jeton
    Alors la DRIMbox source répond 401

  @VA-E @securite @id:E-EXPIRED
  Scénario: La DRIMbox source refuse un jeton expiré
    Quand une DRIMbox consommatrice demande une série du KOS avec un jeton expiré
    Alors la DRIMbox source répond 401

  @VA-E @securite @id:E-ISSUER
  Scénario: La DRIMbox source refuse un jeton d'un émetteur inconnu
    Quand une DRIMbox consommatrice demande une série du KOS avec un jeton d'un émetteur inconnu
    Alors la DRIMbox source répond 401

  @VA-E @securite @id:E-NO-KOS
  Scénario: La DRIMbox source refuse une requête sans en-tête KOS-SOPInstanceUID
    Quand une DRIMbox consommatrice demande une série du KOS sans l'en-tête KOS-SOPInstanceUID
    Alors la DRIMbox source répond 400

  @VA-E @securite @id:E-NOT-IN-KOS
  Scénario: La DRIMbox source refuse une série non référencée par le KOS
    Quand une DRIMbox consommatrice demande une série que le KOS ne référence pas
    Alors la DRIMbox source répond 403 ou 404

  @VA-E @securite @id:E-PLAIN
  Scénario: La DRIMbox source refuse le HTTP en clair
    Quand une DRIMbox consommatrice demande une série du KOS en HTTP en clair
    Alors la DRIMbox source ne sert pas la série
