"""Bounds for pynetdicom SCPs against hostile peers (issue 13), shared by the harness's simulators and the
reference DRIMbox: neither judge nor judged, a library of ours as pynetdicom is a library of others.
See :mod:`dicombounds.scp`."""
