"""The peer DRIMbox the harness plays: a WADO-RS source (VA-D2) and a WADO-RS consumer (VA-E)."""

from simulators.peer.consumer import ConsumerFetch, PeerConsumer, ProbeResult, SeriesFetch
from simulators.peer.source import PeerSource, SourceRequest, TokenVerdict

__all__ = ["ConsumerFetch", "PeerConsumer", "PeerSource", "ProbeResult", "SeriesFetch", "SourceRequest", "TokenVerdict"]
