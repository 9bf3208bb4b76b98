"""A real local HTTP file server on 127.0.0.1 that counts requests (for download tests)."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class FileServer:
    """Serves ``body`` at any path; ``declared_length`` can lie to simulate a cut download."""

    body: bytes = b""
    declared_length: int | None = None
    status: int = 200
    requests: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/questions.json") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def serve(server_state: FileServer) -> Iterator[FileServer]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server API
            server_state.requests.append(self.path)
            self.send_response(server_state.status)
            length = server_state.declared_length
            self.send_header("Content-Length", str(len(server_state.body) if length is None else length))
            self.end_headers()
            self.wfile.write(server_state.body)
            self.close_connection = True

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server_state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
