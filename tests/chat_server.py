"""A real local HTTP server speaking the OpenAI chat-completions API, for tests.

It listens on ``127.0.0.1`` only, answers from a script of :class:`Reply` objects (or a
callable), and records every request it received, so tests can check what a client sent
without any network. Shared by the judge and the generation tests.

Example::

    with ChatServer() as server:
        server.push(Reply.status(429), Reply.completion('{"ok": true}'))
        client = openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)
        ...
        assert server.requests[-1].json["model"] == "gpt-4.1"

Replies:

- :meth:`Reply.completion` a chat completion with the given content (JSON-encoded when a
  dict/list), usage, finish reason and optional refusal; served as SSE when the request
  asks for ``stream: true``;
- :meth:`Reply.status` any status code with a JSON error body and headers (429, 500, ...);
- :meth:`Reply.garbage` a 200 whose body is not JSON;
- :meth:`Reply.hang` waits ``seconds`` before answering (client timeouts);
- :meth:`Reply.drop` closes the connection without any answer.

When the script is empty the server answers with ``default`` (a 500 unless set), so a
client that calls more often than a test expected fails loudly instead of hanging.
"""

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ChatServer", "RecordedRequest", "Reply"]

#: A hung reply never waits longer than this, so a test can always finish.
MAX_HANG_S = 10.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float

    @property
    def json(self) -> Any:
        """The body parsed as JSON (``None`` when it is empty or not JSON)."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None


@dataclass(frozen=True)
class Reply:
    """One scripted answer. Build with the class methods."""

    kind: str
    code: int = 200
    payload: Any = None
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0

    @classmethod
    def completion(
        cls,
        content: Any = "",
        *,
        model: str | None = None,
        prompt_tokens: int = 100,
        completion_tokens: int = 20,
        finish_reason: str = "stop",
        refusal: str | None = None,
        delay_s: float = 0.0,
    ) -> "Reply":
        """A successful chat completion.

        Args:
            content: Message content; dicts and lists are JSON-encoded, ``None`` stays null.
            model: Model echoed back (defaults to the requested one).
            prompt_tokens: Reported input tokens.
            completion_tokens: Reported output tokens.
            finish_reason: ``stop``, ``length``, ...
            refusal: A refusal message (content is then usually ``None``).
            delay_s: Wait this long before answering.
        """
        if isinstance(content, dict | list):
            content = json.dumps(content)
        return cls(
            "completion",
            payload={
                "content": content,
                "model": model,
                "usage": (prompt_tokens, completion_tokens),
                "finish_reason": finish_reason,
                "refusal": refusal,
            },
            delay_s=delay_s,
        )

    @classmethod
    def status(cls, code: int, message: str = "scripted error", *,
               headers: dict[str, str] | None = None) -> "Reply":
        """An error status with an OpenAI-style JSON error body."""
        hdrs = dict(headers or {})
        if code == 429:
            hdrs.setdefault("retry-after", "0")
        return cls("status", code=code, payload={"error": {"message": message, "type": "scripted",
                                                             "code": code}},
                   headers=tuple(hdrs.items()))

    @classmethod
    def garbage(cls, body: bytes = b"<html>not json at all", *, status: int = 200) -> "Reply":
        """A body that is not JSON."""
        return cls("garbage", code=status, payload=body)

    @classmethod
    def hang(cls, seconds: float, then: "Reply | None" = None) -> "Reply":
        """Wait ``seconds`` (at most :data:`MAX_HANG_S`) then answer ``then`` (an empty completion)."""
        then = then or cls.completion("")
        return cls(then.kind, code=then.code, payload=then.payload, headers=then.headers,
                   delay_s=min(seconds, MAX_HANG_S))

    @classmethod
    def drop(cls) -> "Reply":
        """Close the connection without answering."""
        return cls("drop")


Responder = Callable[[RecordedRequest], Reply]


@dataclass
class _State:
    script: deque = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    responder: Responder | None = None
    default: Reply = field(default_factory=lambda: Reply.status(500, "chat_server script is empty"))
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "svgkit-test-chat/1"
    state: _State  # set on the subclass made per server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - keep quiet in tests
        return

    def _read(self) -> RecordedRequest:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        rec = RecordedRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                              body, time.monotonic())
        with self.state.lock:
            self.state.requests.append(rec)
        return rec

    def _next_reply(self, rec: RecordedRequest) -> Reply:
        with self.state.lock:
            if self.state.script:
                return self.state.script.popleft()
            responder = self.state.responder
            default = self.state.default
        return responder(rec) if responder else default

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        rec = self._read()
        if rec.path.rstrip("/").endswith("/models"):
            self._send(200, json.dumps({"object": "list", "data": [
                {"id": "test-model", "object": "model", "owned_by": "chat_server"}]}).encode())
        else:
            self._send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self) -> None:  # noqa: N802
        rec = self._read()
        reply = self._next_reply(rec)
        if reply.delay_s:
            self.state.stopping.wait(reply.delay_s)
        if reply.kind == "drop":
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        try:
            if reply.kind == "status":
                self._send(reply.code, json.dumps(reply.payload).encode(), dict(reply.headers))
            elif reply.kind == "garbage":
                self._send(reply.code, reply.payload, content_type="text/html")
            else:
                self._send_completion(rec, reply)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            self.close_connection = True

    def _send_completion(self, rec: RecordedRequest, reply: Reply) -> None:
        req = rec.json if isinstance(rec.json, dict) else {}
        p = reply.payload
        model = p["model"] or req.get("model") or "test-model"
        prompt_tokens, completion_tokens = p["usage"]
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        created = int(time.time())
        cid = f"chatcmpl-test{len(self.state.requests)}"
        if req.get("stream"):
            chunks = [
                {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": {"role": "assistant", "content": p["content"] or ""},
                              "finish_reason": None}]},
                {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                 "choices": [{"index": 0, "delta": {}, "finish_reason": p["finish_reason"]}],
                 "usage": usage},
            ]
            body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
            self._send(200, body.encode(), content_type="text/event-stream")
            return
        message: dict[str, Any] = {"role": "assistant", "content": p["content"]}
        if p["refusal"] is not None:
            message["refusal"] = p["refusal"]
        body = {
            "id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": p["finish_reason"]}],
            "usage": usage,
        }
        self._send(200, json.dumps(body).encode())


class ChatServer:
    """A threaded chat-completions server on ``127.0.0.1`` (an ephemeral port), as a context manager.

    Args:
        default: Reply when the script is empty and no responder is set (a 500 by default).
        responder: Callable choosing a reply from the request, used when the script is empty.
    """

    def __init__(self, *, default: Reply | None = None, responder: Responder | None = None) -> None:
        self._state = _State()
        if default is not None:
            self._state.default = default
        self._state.responder = responder
        handler = type("Handler", (_Handler,), {"state": self._state})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "ChatServer":
        """Start serving in a daemon thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hung replies are released at once."""
        self._state.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "ChatServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ scripting
    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL, ending in ``/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *replies: Reply) -> None:
        """Append replies to the script, answered in order."""
        with self._state.lock:
            self._state.script.extend(replies)

    def set_responder(self, responder: Responder | None) -> None:
        """Answer with ``responder(request)`` whenever the script is empty."""
        with self._state.lock:
            self._state.responder = responder

    @property
    def pending(self) -> int:
        """Scripted replies not served yet."""
        with self._state.lock:
            return len(self._state.script)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Requests received so far (a copy)."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the POSTs to ``.../chat/completions``."""
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/chat/completions")]

    def clear(self) -> None:
        """Forget recorded requests and the remaining script."""
        with self._state.lock:
            self._state.requests.clear()
            self._state.script.clear()
