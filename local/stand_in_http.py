"""HTTP plumbing shared by the local stand-ins for AWS APIs that moto server does not implement.

Both stand-ins (``sagemaker_runtime.py`` and ``featurestore_runtime.py``) speak AWS's rest-json
protocol to the same SDK clients, so they share what that protocol needs on the wire: errors as
an ``x-amzn-ErrorType`` header plus a JSON body with ``__type`` and ``Message`` (botocore reads the
header first, then ``__type``; the JavaScript SDK v3 reads the header, then ``code``, then
``__type``), an ``x-amzn-RequestId`` header, and HTTP/1.1 keep-alive, which the SDKs' connection
pools use. They also share the start-up convention a parent process relies on: one JSON line
``{"port": N}`` on stdout once the server accepts connections, and a clean stop on SIGTERM.

Standard library only, Python 3.8+ syntax.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit

JSON = "application/json"


class ServiceError(Exception):
    """An error the SDKs parse into a modeled exception: its shape name, HTTP status and members."""

    def __init__(self, code: str, status: int, message: str, **members: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message
        self.members = members

    def body(self) -> dict[str, Any]:
        """``__type`` for parsers that do not look at headers; ``Message`` is every shape's member."""
        return {"__type": self.code, "Message": self.message, **self.members}


def validation_error(message: str) -> ServiceError:
    """The 400 ``ValidationError`` both services model for requests that break a constraint."""
    return ServiceError("ValidationError", 400, message)


def constraint_error(value: object, where: str, constraint: str) -> ServiceError:
    """A ValidationError worded as AWS words constraint violations (botocore checks only minimums)."""
    return validation_error(
        f"1 validation error detected: Value {value!r} at '{where}' failed to satisfy constraint: {constraint}"
    )


class StandInServer(ThreadingHTTPServer):
    """A thread per connection; threads are daemons so that a stuck client cannot block a stop."""

    daemon_threads = True
    # socketserver's default backlog of 5 makes the sixth concurrent client wait for a SYN retry (1 s).
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type, quiet: bool = False) -> None:
        self.quiet = quiet
        super().__init__(address, handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self.server_address[0]}:{self.port}"


class StandInHandler(BaseHTTPRequestHandler):
    """Request reading and response writing in the shape the AWS SDKs expect."""

    protocol_version = "HTTP/1.1"  # keep-alive: the SDKs reuse connections
    server_version = "LocalStandIn/1"
    # Headers and body leave in two writes; with Nagle's algorithm the second waits for the
    # client's delayed ACK (~40 ms per request on Linux).
    disable_nagle_algorithm = True
    server: StandInServer
    # Requests larger than this are refused without reading them (and the connection is closed).
    max_body_bytes = 16 * 1024 * 1024

    def route(self, method: str, segments: tuple[str, ...], query: str, body: bytes) -> None:
        """Answers one request; subclasses send the response or raise a ServiceError."""
        raise ServiceError("UnknownOperationException", 404, f"no operation is served at {method} {self.path}")

    def _dispatch(self) -> None:
        # The body is read before anything can fail: an unread body left on a kept-alive
        # connection would be taken for the start of the next request.
        try:
            body = self.read_body()
            segments, query = self.split_path()
            self.route(self.command, segments, query, body)
        except ServiceError as error:
            self.send_service_error(error)
        except Exception:  # the stand-in's own bug: report it as the service's InternalFailure
            traceback.print_exc(file=sys.stderr)
            self.send_service_error(ServiceError("InternalFailure", 500, "the local stand-in failed; see its stderr"))

    do_GET = do_PUT = do_POST = do_DELETE = _dispatch  # noqa: N815 - names BaseHTTPRequestHandler looks up

    def split_path(self) -> tuple[tuple[str, ...], str]:
        """The path's segments, each percent-decoded after splitting (an ARN's ``/`` arrives as %2F), and the query."""
        parts = urlsplit(self.path)
        return tuple(unquote(segment) for segment in parts.path.split("/")[1:]), parts.query

    def read_body(self) -> bytes:
        """The request body, by Content-Length or chunked transfer encoding."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                if total > self.max_body_bytes:
                    self.close_connection = True
                    raise validation_error(f"the request body is larger than {self.max_body_bytes} bytes")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > self.max_body_bytes:
            self.close_connection = True
            raise validation_error(f"the request body is larger than {self.max_body_bytes} bytes")
        return self.rfile.read(length) if length > 0 else b""

    def send_bytes(
        self, status: int, body: bytes, content_type: str | None, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, document: Any) -> None:
        self.send_bytes(status, json.dumps(document).encode("utf-8"), JSON)

    def send_service_error(self, error: ServiceError) -> None:
        body = json.dumps(error.body()).encode("utf-8")
        self.send_bytes(error.status, body, JSON, {"x-amzn-ErrorType": error.code})

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        if not self.server.quiet:
            super().log_message(format, *args)


def serve_in_thread(server: StandInServer) -> threading.Thread:
    """Starts ``server`` on a daemon thread (tests and embedding); stop it with ``stop(server, thread)``."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return thread


def stop(server: StandInServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def run_until_signalled(server: StandInServer) -> int:
    """Serves until SIGTERM or SIGINT, after printing ``{"port": N}`` so that a parent knows where to connect.

    serve_forever runs on a thread because ``shutdown()`` waits for it to return: called from a
    signal handler on the thread that serves, it would never return.
    """
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    thread = serve_in_thread(server)
    sys.stdout.write(json.dumps({"port": server.port}) + "\n")
    sys.stdout.flush()
    while not stopping.wait(0.2):
        pass
    stop(server, thread)
    return 0
