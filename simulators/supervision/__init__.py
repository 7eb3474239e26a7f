"""The ANS supervision tool, as the harness plays it (VA-F): a prober of the SUT's supervision endpoint."""

from simulators.supervision.prober import ProbeRecord, SupervisionProber

__all__ = ["ProbeRecord", "SupervisionProber"]
