"""The RIS simulator: builds CR messages (ORU / MDM) and sends them to the SUT over MLLP."""

from simulators.ris.messages import build_report_message
from simulators.ris.simulator import RisExchange, RisSimulator

__all__ = ["RisExchange", "RisSimulator", "build_report_message"]
