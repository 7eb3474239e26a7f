"""Bounded logging of python-hl7's unescape warnings (issue 13, the backslash blow-up).

python-hl7 logs one warning per bad escape sequence, each quoting the whole
field: a field of N escape characters gave about N/2 records of N bytes, so
N²/2 bytes of log and a delayed ACK. :class:`CappedHl7Records` (installed on
python-hl7's loggers by :func:`install`) keeps the first few records of one
field, drops the rest, and shortens every quoted value to ``MAX_QUOTED``
characters; its "Error decoding value" records (logger.exception for a bad
escape of the input) become warnings without a traceback. So what one message writes to the log is bounded whatever its size.
"""

from __future__ import annotations

import logging
import threading

import hl7.util

MAX_QUOTED = 80
RECORDS_PER_VALUE = 3


class CappedHl7Records(logging.Filter):
    """Keep at most ``RECORDS_PER_VALUE`` records about the same value; quote at most ``MAX_QUOTED`` characters."""

    def __init__(self) -> None:
        super().__init__()
        self._seen = threading.local()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        subject = next((arg for arg in args if isinstance(arg, str) and len(arg) > MAX_QUOTED), None)
        if subject is not None:
            if getattr(self._seen, "value", None) is subject:
                self._seen.count += 1
            else:
                self._seen.value, self._seen.count = subject, 1
            if self._seen.count > RECORDS_PER_VALUE:
                return False
        record.args = tuple(_shorten(arg) for arg in args)
        if record.levelno >= logging.ERROR:  # "Error decoding value" is a bad escape of the input, not a harness bug
            record.levelno, record.levelname, record.exc_info = logging.WARNING, "WARNING", None
        return True


def _shorten(value: object) -> object:
    if isinstance(value, str) and len(value) > MAX_QUOTED:
        return f"{value[:MAX_QUOTED]}… ({len(value)} characters)"
    return value


_FILTER = CappedHl7Records()


def install() -> None:
    """Put the cap on python-hl7's loggers (named after their source files); idempotent."""
    for module in (hl7.util,):
        logger = logging.getLogger(module.__file__)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
