"""The DMP / Mon espace santé simulator (XDS.b repository and registry over mutual TLS)."""

from simulators.dmp.registry import Registry, RegistryEntry, RegistryError, StatusChange
from simulators.dmp.server import DmpSimulator, Submission, TlsRejection

__all__ = ["DmpSimulator", "Registry", "RegistryEntry", "RegistryError", "StatusChange", "Submission", "TlsRejection"]
