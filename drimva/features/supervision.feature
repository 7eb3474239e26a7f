# language: fr
Fonctionnalité: Réponse à l'outil de supervision de l'ANS
  Le banc joue l'outil de supervision de l'ANS : il sonde à plusieurs reprises
  le point de supervision de la DRIMbox (URL, méthode et réponse attendue
  données par le profil ; par défaut un GET HTTPS qui répond 200 avec un
  statut JSON dans le délai, 5 fois) et enregistre sa disponibilité ; il la
  sonde aussi en continu pendant toute la campagne.

  @VA-F @id:F-SUPERVISION
  Scénario: La DRIMbox répond à l'outil de supervision de l'ANS
    Quand l'outil de supervision de l'ANS sonde la DRIMbox à plusieurs reprises
    Alors chaque sonde reçoit dans le délai la réponse attendue
