"""The DMP / Mon espace santé simulator (XDS.b repository and registry over mutual TLS)."""

from simulators.dmp.registry import Registry, RegistryEntry, RegistryError, StatusChange
from simulators.dmp.server import REGISTRY_PATH, REPOSITORY_PATH, DmpSimulator, Submission, TlsRejection

__all__ = [
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
