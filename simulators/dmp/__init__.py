"""The DMP / Mon espace santé simulator (XDS.b repository and registry over mutual TLS)."""

from simulators.dmp.registry import Registry, RegistryEntry, RegistryError, StatusChange
from simulators.dmp.preload import KosFacts, kos_submission
from simulators.dmp.server import (
    DEFAULT_REPOSITORY_UNIQUE_ID,
    REGISTRY_PATH,
    REPOSITORY_PATH,
    DmpSimulator,
    Submission,
    TlsRejection,
)

__all__ = [
    "DEFAULT_REPOSITORY_UNIQUE_ID",
    "KosFacts",
    "kos_submission",
    "REGISTRY_PATH",
    "REPOSITORY_PATH",
    "DmpSimulator",
    "Registry",
    "RegistryEntry",
    "RegistryError",
    "StatusChange",
    "Submission",
    "TlsRejection",
]
