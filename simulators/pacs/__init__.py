"""The PACS simulator: a pynetdicom Q/R and Storage SCP the DRIMbox under test talks to."""

from simulators.pacs.simulator import DimseRecord, PacsSimulator

__all__ = ["DimseRecord", "PacsSimulator"]
