"""The reference DRIMbox's supervision endpoint (VA-F), on its own HTTPS port.

``GET /supervision`` answers at once ``200 application/json``
``{"status": "UP", "checks": {name: "UP" | "DOWN"}, "time": ISO 8601 UTC}``,
or ``503`` with ``"status": "DOWN"`` when a check fails. The ANS tool's
protocol is not public (va-checklist.md, open question 1): this is the
harness's default probe (HTTPS GET, 200, JSON status), in the spirit of the
demonstrator's Quarkus ``/q/health``.

Faults: ``supervision_slow`` (answers after 3 s), ``supervision_wrong_status``
(answers 200 with ``{"status": "DOWN"}`` while every check is up).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from .https_server import Request, Response, ServedByTlsHttp, TlsHttpServer, text_response

PATH = "/supervision"
SLOW_S = 3.0

Check = Callable[[], bool]


class SupervisionServer(ServedByTlsHttp):
    def __init__(
        self,
        *,
        checks: Mapping[str, Check],
        cert: Path,
        key: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: frozenset[str] = frozenset(),
        timeout_s: float = 10.0,
        log: logging.Logger | None = None,
    ) -> None:
        self.checks = dict(checks)
        self.faults = faults
        self.log = log or logging.getLogger("reference.supervision")
        self._stopping = threading.Event()
        self.http = TlsHttpServer(self.handle, cert, key, host, port, timeout_s=timeout_s, log=self.log)

    @property
    def url(self) -> str:
        return self.http.url(PATH)

    def start(self) -> SupervisionServer:
        self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        self._stopping.set()  # a slow answer in progress ends now
        super().stop()

    def handle(self, request: Request) -> Response:
        if request.path.rstrip("/") != PATH:
            return text_response(404, f"no such resource: {request.path}")
        if request.method not in ("GET", "HEAD"):
            return text_response(405, "only GET is supported", ("Allow", "GET"))
        checks = {name: "UP" if _safe(check) else "DOWN" for name, check in self.checks.items()}
        status = "UP" if all(value == "UP" for value in checks.values()) else "DOWN"
        if "supervision_wrong_status" in self.faults:
            status = "DOWN"
            self.log.info("fault supervision_wrong_status: answering DOWN")
        if "supervision_slow" in self.faults:
            self.log.info("fault supervision_slow: answering in %.0f s", SLOW_S)
            self._stopping.wait(SLOW_S)
        code = 503 if status == "DOWN" and "supervision_wrong_status" not in self.faults else 200
        body = {"status": status, "checks": checks, "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        self.log.info("supervision probe from %s: %d %s", request.client[0], code, status)
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        return Response(code, headers, json.dumps(body).encode("utf-8"))


def _safe(check: Check) -> bool:
    try:
        return bool(check())
    except Exception:
        return False
