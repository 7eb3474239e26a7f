"""The reference DRIMbox's own cap on a chatty library logger (it imports nothing of the judge).

python-hl7 warns once per bad escape sequence and quotes the whole field each
time: a field of N backslashes wrote about N²/2 bytes to the DRIMbox's log and
delayed its ACK. Here every quoted argument is cut to ``QUOTE_LIMIT``
characters, and once ``SAME_VALUE_LIMIT`` records have quoted one value the
following ones about it are dropped. Its "Error decoding value" records (logged
with logger.exception for a bad escape of the input) become warnings without a traceback.
"""

from __future__ import annotations

import logging
import threading

QUOTE_LIMIT = 80
SAME_VALUE_LIMIT = 3


class _Cap(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.last = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        args = tuple(record.args) if isinstance(record.args, tuple) else ()
        long_values = [arg for arg in args if isinstance(arg, str) and len(arg) > QUOTE_LIMIT]
        if long_values:
            key = id(long_values[0])
            same = getattr(self.last, "key", None) == key
            self.last.key, self.last.times = key, (self.last.times + 1 if same else 1)
            if self.last.times > SAME_VALUE_LIMIT:
                return False
        record.args = tuple(
            f"{arg[:QUOTE_LIMIT]}... [{len(arg)} chars]" if isinstance(arg, str) and len(arg) > QUOTE_LIMIT else arg
            for arg in args
        )
        if record.levelno >= logging.ERROR:  # python-hl7 logs a bad escape of the input as an exception: an input fault
            record.levelno, record.levelname, record.exc_info = logging.WARNING, "WARNING", None
        return True


def cap_library_log(name: str) -> None:
    """Install the cap on the logger ``name`` once."""
    logger = logging.getLogger(name)
    if not any(isinstance(existing, _Cap) for existing in logger.filters):
        logger.addFilter(_Cap())
