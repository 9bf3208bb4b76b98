"""The machinery every stand-in shares: a real threaded HTTP server on 127.0.0.1.

A stand-in is a :class:`StandinServer` with routes (``@server.route("GET", r"/v1/things/(?P<id>[^/]+)")``)
that answer :class:`Request` objects with :class:`Response` objects. Any route can be made to
misbehave on purpose: :meth:`StandinServer.push` queues scripted responses (an error status, a
hang, a body that trickles one byte at a time, a body cut short, a dropped connection) that are
served before the route's own handler, so clients can be tested against every fault through their
real code. :attr:`StandinServer.active` counts answers still being sent, so a test can check that a
client which gave up really closed its connection.

Every request is recorded (:attr:`StandinServer.requests`) with secret values removed: the
``Authorization`` and API-key headers are replaced by ``***``, and so is every string the server
was told is secret (:meth:`StandinServer.add_secret`) wherever it appears in a path or body.
"""

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "MAX_HANG_S",
    "Handler",
    "RecordedRequest",
    "Request",
    "Response",
    "Route",
    "StandinServer",
]

#: A hang or a trickle never lasts longer than this, so a test or a rehearsal always finishes.
MAX_HANG_S = 30.0

#: Headers whose values are never recorded.
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"})
_REDACTED = "***"


@dataclass(frozen=True)
class Request:
    """One request as a route handler sees it (secrets included: handlers may check keys).

    Attributes:
        method: ``GET``, ``POST``, ...
        path: The path without the query string.
        query: Query parameters (last value wins).
        headers: Header names in lower case.
        body: The raw body.
        params: Named groups of the route's pattern.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON (``None`` when it is empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def bearer(self) -> str | None:
        """The token of an ``Authorization: Bearer ...`` header, if any."""
        auth = self.headers.get("authorization", "")
        return auth[7:].strip() or None if auth.lower().startswith("bearer ") else None


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received, as recorded: no secret values.

    Attributes:
        method: ``GET``, ``POST``, ...
        path: The path with its query string (secrets redacted).
        headers: Header names in lower case; secret headers read ``***``.
        body: The body with every known secret replaced by ``***``.
        status: The status answered (``0`` when the connection was dropped).
        received_at: ``time.monotonic()`` when it arrived.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    received_at: float

    @property
    def json(self) -> Any:
        """The body parsed as JSON (``None`` when it is empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass(frozen=True)
class Response:
    """What a route (or a scripted fault) answers. Build with the class methods.

    Attributes:
        status: HTTP status.
        body: The body.
        headers: Extra headers.
        content_type: The ``content-type`` header.
        delay_s: Wait this long before answering.
        trickle_s: Send the body one byte every this many seconds (0: all at once).
        drop: Close the connection without answering.
        cut_after: Declare the whole body's length but send only this many bytes, then close.
    """

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = "application/json"
    delay_s: float = 0.0
    trickle_s: float = 0.0
    drop: bool = False
    cut_after: int | None = None

    @classmethod
    def json(cls, payload: Any, status: int = 200, *, headers: dict[str, str] | None = None) -> "Response":
        """A JSON body."""
        return cls(status, json.dumps(payload).encode(), tuple((headers or {}).items()))

    @classmethod
    def error(cls, status: int, message: str = "stand-in error", *,
              headers: dict[str, str] | None = None) -> "Response":
        """An error status with a JSON body ``{"error": {"message", "code"}}`` (OpenAI and Fireworks style)."""
        hdrs = dict(headers or {})
        if status == 429:
            hdrs.setdefault("retry-after", "0")
        return cls.json({"error": {"message": message, "code": status}}, status, headers=hdrs)

    @classmethod
    def text(cls, body: str | bytes, status: int = 200, *, content_type: str = "text/html") -> "Response":
        """A body that is not JSON (an HTML error page behind a proxy, say)."""
        data = body.encode() if isinstance(body, str) else body
        return cls(status, data, content_type=content_type)

    @classmethod
    def hang(cls, seconds: float = MAX_HANG_S, then: "Response | None" = None) -> "Response":
        """Wait ``seconds`` (at most :data:`MAX_HANG_S`, released at shutdown), then answer ``then``."""
        return replace(then or cls.error(504, "stand-in hung"), delay_s=min(seconds, MAX_HANG_S))

    @classmethod
    def trickle(cls, then: "Response", *, seconds_per_byte: float = 1.0) -> "Response":
        """Answer ``then``, but send its body one byte every ``seconds_per_byte`` (up to :data:`MAX_HANG_S`)."""
        return replace(then, trickle_s=seconds_per_byte)

    @classmethod
    def truncated(cls, then: "Response", *, after_bytes: int) -> "Response":
        """Answer ``then`` with its full ``content-length``, but close after ``after_bytes`` bytes (a cut download)."""
        return replace(then, cut_after=max(0, after_bytes))

    @classmethod
    def dropped(cls) -> "Response":
        """Close the connection without any answer."""
        return cls(status=0, drop=True)


#: A route's handler: a request in, a response out.
Handler = Callable[[Request], Response]


class _HTTPServer(ThreadingHTTPServer):
    #: Room for many clients connecting at once (socketserver's default of 5 resets some of them).
    request_queue_size = 256


@dataclass(frozen=True)
class Route:
    """A route: method, compiled path pattern (matched in full) and handler."""

    method: str
    pattern: re.Pattern[str]
    handler: Handler


@dataclass
class _Script:
    method: str | None
    pattern: re.Pattern[str] | None
    responses: deque


class StandinServer:
    """A threaded HTTP server on ``127.0.0.1`` (an ephemeral port unless given), as a context manager.

    Subclasses (or callers) add routes with :meth:`route`/:meth:`add_route`. A request no route
    matches gets a 404 with a JSON error, so a client calling an endpoint the stand-in does not
    speak fails loudly.

    Args:
        port: The port (0: any free one).
        name: Server name, sent as the ``server`` header and used in messages.
    """

    def __init__(self, *, port: int = 0, name: str = "svgkit-standin") -> None:
        self.name = name
        self._routes: list[Route] = []
        self._scripts: list[_Script] = []
        self._requests: list[RecordedRequest] = []
        self._secrets: set[str] = set()
        self._active = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = _HTTPServer(("127.0.0.1", port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "StandinServer":
        """Start serving in a daemon thread; returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=self.name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hangs and trickles in progress are released at once."""
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "StandinServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------------ routes and faults
    def add_route(self, method: str, pattern: str, handler: Handler) -> None:
        """Answer ``method`` requests whose path matches ``pattern`` (a regex, matched in full)."""
        self._routes.append(Route(method.upper(), re.compile(pattern), handler))

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`add_route`."""
        def register(handler: Handler) -> Handler:
            self.add_route(method, pattern, handler)
            return handler
        return register

    def push(self, *responses: "Response | Handler", method: str | None = None, path: str | None = None) -> None:
        """Serve ``responses``, in order, to the next requests matching ``method`` and ``path``.

        Args:
            responses: Scripted answers (faults, usually) served before any route handler; a
                callable is called with the request and its answer served.
            method: Only requests with this method (default: any).
            path: Only paths matching this regex in full (default: any).
        """
        with self._lock:
            self._scripts.append(_Script(method.upper() if method else None,
                                         re.compile(path) if path else None, deque(responses)))

    @property
    def pending(self) -> int:
        """Scripted responses not served yet."""
        with self._lock:
            return sum(len(s.responses) for s in self._scripts)

    def add_secret(self, value: str | None) -> None:
        """Never record ``value``: it is replaced by ``***`` wherever it appears."""
        if value:
            with self._lock:
                self._secrets.add(value)

    def redact(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        with self._lock:
            secrets = sorted(self._secrets, key=len, reverse=True)
        for s in secrets:
            text = text.replace(s, _REDACTED)
        return text

    # ------------------------------------------------------------------ records
    @property
    def active(self) -> int:
        """Answers being prepared or sent right now (hangs and trickles included).

        It drops back to 0 once a client that gave up has closed its connection: the next byte
        a trickle writes then fails and the answer ends.
        """
        with self._lock:
            return self._active

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Wait until no answer is in progress (:attr:`active` is 0); ``False`` if that took too long.

        A request is recorded once it is answered, so wait before counting the requests of a
        client that was just cancelled or timed out.
        """
        deadline = time.monotonic() + timeout_s
        while self.active and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.active == 0

    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests received so far, oldest first (a copy; no secret values)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, method: str, pattern: str) -> list[RecordedRequest]:
        """Recorded requests with ``method`` whose path (query string excluded) matches ``pattern``."""
        rx = re.compile(pattern)
        return [r for r in self.requests if r.method == method.upper() and rx.fullmatch(r.path.split("?")[0])]

    def clear(self) -> None:
        """Forget recorded requests and the remaining scripts."""
        with self._lock:
            self._requests.clear()
            self._scripts.clear()

    # ------------------------------------------------------------------ dispatch
    def _scripted(self, method: str, path: str) -> "Response | Handler | None":
        with self._lock:
            for script in self._scripts:
                if script.responses and (script.method in (None, method)) and (
                        script.pattern is None or script.pattern.fullmatch(path)):
                    return script.responses.popleft()
        return None

    def _dispatch(self, request: Request) -> Response:
        scripted = self._scripted(request.method, request.path)
        if isinstance(scripted, Response):
            return scripted
        if scripted is not None:
            return self._call(scripted, request)
        allowed = []
        for r in self._routes:
            m = r.pattern.fullmatch(request.path)
            if m is None:
                continue
            if r.method != request.method:
                allowed.append(r.method)
                continue
            params = {k: v for k, v in m.groupdict().items() if v is not None}
            return self._call(r.handler, Request(request.method, request.path, request.query, request.headers,
                                                 request.body, params))
        if allowed:
            return Response.error(405, f"{self.name}: {request.method} is not allowed on {request.path}")
        return Response.error(404, f"{self.name} does not speak {request.method} {request.path}")

    def _call(self, handler: Handler, request: Request) -> Response:
        try:
            return handler(request)
        except Exception as exc:  # noqa: BLE001 - a stand-in bug must answer, not hang the client
            return Response.error(500, f"{self.name}: {type(exc).__name__}: {self.redact(str(exc))}")

    def _record(self, request: Request, raw_path: str, status: int) -> None:
        headers = {k: (_REDACTED if k in _SECRET_HEADERS else self.redact(v)) for k, v in request.headers.items()}
        body = self.redact(request.body.decode("utf-8", errors="replace")).encode()
        rec = RecordedRequest(request.method, self.redact(raw_path), headers, body, status, time.monotonic())
        with self._lock:
            self._requests.append(rec)

    def _sleep(self, seconds: float) -> bool:
        """Wait; ``False`` when the server is stopping."""
        return not self._stopping.wait(seconds)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = server.name
            # Headers and body go out as separate writes: without TCP_NODELAY, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every keep-alive request.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stay quiet
                return

            def _handle(self) -> None:
                with server._lock:
                    server._active += 1
                try:
                    self._serve()
                finally:
                    with server._lock:
                        server._active -= 1

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                split = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(split.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Request(self.command, split.path, query, headers, body)
                response = server._dispatch(request)
                server._record(request, self.path, response.status)
                if response.delay_s and not server._sleep(response.delay_s):
                    response = Response.dropped()
                if response.drop:
                    self.close_connection = True
                    try:
                        self.connection.shutdown(2)
                    except OSError:
                        pass
                    return
                try:
                    self._send(response)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    self.close_connection = True

            def _send(self, response: Response) -> None:
                self.send_response(response.status)
                self.send_header("content-type", response.content_type)
                self.send_header("content-length", str(len(response.body)))
                for k, v in response.headers:
                    self.send_header(k, v)
                self.end_headers()
                body = response.body if response.cut_after is None else response.body[:response.cut_after]
                if response.cut_after is not None:
                    self.close_connection = True
                if not response.trickle_s:
                    self.wfile.write(body)
                    return
                deadline = time.monotonic() + MAX_HANG_S
                for chunk in _bytes(body):
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    if time.monotonic() > deadline or not server._sleep(response.trickle_s):
                        self.close_connection = True
                        return

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle  # noqa: N815 - http.server API

        return _Handler


def _bytes(data: bytes) -> Iterator[bytes]:
    for i in range(len(data)):
        yield data[i:i + 1]
