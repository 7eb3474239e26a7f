"""Identity provider simulators: Pro Santé Connect (professionals)."""

from simulators.idp.psc import FOREIGN_ISSUER, PscSimulator, RemoteJwks

__all__ = ["FOREIGN_ISSUER", "PscSimulator", "RemoteJwks"]
