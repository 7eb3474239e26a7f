"""A private Orthanc (with its DICOMweb plugin) started and stopped by a test, as a real WADO-RS peer.

The Debian package (``apt-get install orthanc orthanc-dicomweb``) ships a
system service on 4242/8042 with ``/etc/orthanc``; it is never used here:
each ``OrthancProcess`` is its own ``Orthanc <config.json>`` child process,
with storage, index, configuration and log in the given folder, HTTPS on a
free port (certificate and key in one PEM file), a DICOM port of its own,
``RemoteAccessAllowed: false`` (Orthanc binds every interface but answers
only loopback clients) and no authentication.
"""

from __future__ import annotations

import json
import select
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import httpx

BINARY_CANDIDATES = ("/usr/sbin/Orthanc", "/usr/bin/Orthanc")
PLUGIN_CANDIDATES = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
    "/usr/lib/orthanc/libOrthancDicomWeb.so",
    "/usr/local/share/orthanc/plugins/libOrthancDicomWeb.so",
)
DICOMWEB_ROOT = "/dicom-web/"
STOP_TIMEOUT_S = 5.0


def find_orthanc() -> tuple[Path, Path] | str:
    """``(binary, DICOMweb plugin)``, or why they cannot be used (the reason a test skips with)."""
    binary = shutil.which("Orthanc") or next((c for c in BINARY_CANDIDATES if Path(c).is_file()), None)
    if binary is None:
        return "Orthanc not installed (apt package orthanc): no Orthanc binary on PATH or in /usr/sbin"
    plugin = next((Path(c) for c in PLUGIN_CANDIDATES if Path(c).is_file()), None)
    if plugin is None:
        versioned = sorted(Path("/usr/lib/orthanc").glob("libOrthancDicomWeb.so*")) if Path("/usr/lib/orthanc").is_dir() else []
        plugin = versioned[0] if versioned else None
    if plugin is None:
        return "Orthanc DICOMweb plugin not installed (apt package orthanc-dicomweb): libOrthancDicomWeb.so not found"
    return Path(binary), plugin


def free_port() -> int:
    """A port free on every interface now (Orthanc binds 0.0.0.0); picked just before starting."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


class OrthancStartError(RuntimeError):
    """Orthanc did not answer ``/system``; ``returncode`` is the exit status when the process died."""

    def __init__(self, message: str, returncode: int | None) -> None:
        super().__init__(message)
        self.returncode = returncode


class OrthancProcess:
    """``with OrthancProcess(folder, pem, ca) as orthanc: orthanc.base_url ...``

    ``pem`` holds the server certificate (for 127.0.0.1) AND its private key;
    ``ca_cert`` verifies it. ``start()`` waits until ``GET /system`` answers
    (at most ``startup_timeout_s``); ``stop()`` terminates, kills after
    ``STOP_TIMEOUT_S`` and is idempotent.
    """

    def __init__(
        self,
        folder: Path,
        pem: Path,
        ca_cert: Path,
        *,
        binary: Path,
        plugin: Path,
        tls: bool = True,
        startup_timeout_s: float = 30.0,
        attempts: int = 3,
    ) -> None:
        self.folder = Path(folder)
        self.pem = Path(pem)
        self.ca_cert = Path(ca_cert)
        self.binary = Path(binary)
        self.plugin = Path(plugin)
        self.tls = tls
        self.startup_timeout_s = startup_timeout_s
        self.attempts = attempts
        self.http_port = 0
        self.dicom_port = 0
        self.startup_s = 0.0
        self.log_path = self.folder / "orthanc.log"
        self.config_path = self.folder / "orthanc.json"
        self.process: subprocess.Popen[bytes] | None = None
        self.last_returncode: int | None = None
        verify: ssl.SSLContext | bool = True
        if tls:
            verify = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_cert))
        self.http = httpx.Client(verify=verify, timeout=httpx.Timeout(10.0), trust_env=False)

    @property
    def base_url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.http_port}"

    @property
    def dicomweb_url(self) -> str:
        return f"{self.base_url}{DICOMWEB_ROOT.rstrip('/')}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("Orthanc is not started")
        return self.process.pid

    def config(self) -> dict[str, object]:
        storage = self.folder / "storage"
        return {
            "Name": "drimva-orthanc",
            "StorageDirectory": str(storage),
            "IndexDirectory": str(storage),
            "StorageCompression": False,
            "HttpServerEnabled": True,
            "HttpPort": self.http_port,
            "DicomServerEnabled": True,
            "DicomAet": "DRIMVA_ORTHANC",
            "DicomPort": self.dicom_port,
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "SslEnabled": self.tls,
            "SslCertificate": str(self.pem),
            "SslVerifyPeers": False,
            "HttpThreadsCount": 4,
            "HttpCompressionEnabled": False,
            "ConcurrentJobs": 1,
            "Plugins": [str(self.plugin)],
            "DicomWeb": {"Enable": True, "Root": DICOMWEB_ROOT, "EnableWado": False},
        }

    def start(self) -> OrthancProcess:
        if self.process is not None:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        for attempt in range(1, self.attempts + 1):
            self.http_port, self.dicom_port = free_port(), free_port()
            self.config_path.write_text(json.dumps(self.config(), indent=2), "utf-8")
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [str(self.binary), "--no-jobs", str(self.config_path)],
                    cwd=self.folder, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                )
            if self._wait_ready():
                self.startup_s = time.monotonic() - began
                return self
            self.stop()  # port taken between pick and bind, or a real failure: retry, then report
        raise OrthancStartError(
            f"Orthanc did not answer /system in {self.attempts} attempt(s) (exit status {self.last_returncode});"
            f" log {self.log_path}:\n{self.log_tail()}",
            self.last_returncode,
        )

    def _wait_ready(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if self.http.get(f"{self.base_url}/system").status_code == 200:
                    return True
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        """Terminate (SIGTERM), kill if still alive after ``STOP_TIMEOUT_S``; idempotent.

        Orthanc 1.10 needs about 3.5 s to stop cleanly (HTTP server ~2 s, DICOM server ~1 s).
        """
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_S)
        self.last_returncode = process.returncode

    def close(self) -> None:
        self.stop()
        self.http.close()

    def __enter__(self) -> OrthancProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text("utf-8", errors="replace").splitlines()[-lines:])

    # -- REST ----------------------------------------------------------------------------------
    def version(self) -> dict[str, object]:
        return dict(self.http.get(f"{self.base_url}/system").json())

    def plugins(self) -> list[str]:
        return list(self.http.get(f"{self.base_url}/plugins").json())

    def upload(self, part10: bytes) -> dict[str, object]:
        """``POST /instances`` with the Part-10 bytes; Orthanc's JSON answer (raises on HTTP error)."""
        response = self.http.post(f"{self.base_url}/instances", content=part10,
                                  headers={"Content-Type": "application/dicom"})
        response.raise_for_status()
        return dict(response.json())


class TlsRelay:
    """A byte-transparent TLS terminator in front of a loopback port (``https://127.0.0.1:<port>`` -> ``target``).

    Used only where Orthanc's own HTTPS is broken (see the test module): the
    relay decrypts and forwards the bytes unchanged, so every HTTP header and
    body the client sees is Orthanc's.
    """

    def __init__(self, target_port: int, cert: Path, key: Path, *, timeout_s: float = 10.0) -> None:
        self.target_port = target_port
        self.timeout_s = timeout_s
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._context.load_cert_chain(str(cert), str(key))
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.port = 0
        self.connections = 0

    def start(self) -> TlsRelay:
        if self._listener is not None:
            return self
        self._stopping.clear()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._spawn(self._accept_loop)
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is None:
            return
        self._stopping.set()
        listener.close()
        with self._lock:
            for sock in self._open:
                try:
                    sock.close()
                except OSError:
                    pass
            threads = list(self._threads)
        for thread in threads:
            thread.join(self.timeout_s)

    def __enter__(self) -> TlsRelay:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="orthanc-tls-relay")  # type: ignore[arg-type]
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _accept_loop(self) -> None:
        listener = self._listener
        while not self._stopping.is_set() and listener is not None:
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._spawn(self._serve, raw)

    def _serve(self, raw: socket.socket) -> None:
        raw.settimeout(self.timeout_s)
        try:
            client = self._context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=self.timeout_s)
        except OSError:
            client.close()
            return
        with self._lock:
            self._open.update((client, upstream))
        try:
            self._pump(client, upstream)
        except (ssl.SSLError, OSError):
            pass
        finally:
            with self._lock:
                self._open.difference_update((client, upstream))
            client.close()
            upstream.close()

    def _pump(self, client: ssl.SSLSocket, upstream: socket.socket) -> None:
        while not self._stopping.is_set():
            ready = [client] if client.pending() else select.select([client, upstream], [], [], 0.2)[0]
            for sock in ready:
                try:
                    data = sock.recv(65536)
                except ssl.SSLWantReadError:
                    continue
                if not data:
                    return
                (upstream if sock is client else client).sendall(data)
