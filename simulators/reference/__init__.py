"""The reference DRIMbox: a conformant DRIMbox (source role of VA block B) reached only over the network.

Run it with ``python -m simulators.reference`` (see ``__main__``). It must not
import ``drimva``, ``fixtures``, ``steps`` or another simulator, and nothing
outside this package imports it (tests of the package itself excepted).

Modules: ``config`` (CONFIG.json), ``faults`` (named faults), ``mllp_server``,
``hl7_in`` / ``hl7_ack`` (report message in, technical ACK out), ``cda_in``
(the CR), ``pacs_client`` (C-FIND SCU), ``kos_builder``, ``state`` (published
KOS per study), ``service`` (orchestration), ``dicom_server`` (C-ECHO SCP);
``publication`` / ``dmp_client`` / ``xds_metadata`` / ``vihf`` (DMP side).
"""
