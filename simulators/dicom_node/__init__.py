"""The DICOM node of the consumer DRIMbox under test (VA-D3): C-STORE SCP and STOW-RS endpoint."""

from simulators.dicom_node.server import DicomNode, Receipt

__all__ = ["DicomNode", "Receipt"]
