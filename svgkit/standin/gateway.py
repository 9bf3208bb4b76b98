"""A stand-in of Fireworks' tracing gateway and the model behind it, in one server.

Eval Protocol's remote rollout processing talks to one host for three things, and
:class:`GatewayStandin` plays all of them offline (endpoints as eval-protocol 0.3.33 calls them):

- **the model**: ``POST {model_base_url}/chat/completions``, where ``model_base_url`` is
  ``http://localhost:PORT/rollout_id/R/invocation_id/I/experiment_id/E/run_id/U/row_id/W``
  (what ``RemoteRolloutProcessor`` hands the rollout server). Each answered call is stored
  as a *trace* tagged with those ids, as the real gateway does. A call without the ids in its
  path is answered but not traced, so its rollout ends ``NOT_FOUND``, as it would live;
- **the log store**: ``POST /logs`` (and ``/v1/logs``) takes what
  ``FireworksTracingHttpHandler`` sends; ``GET /logs`` searches it by tag; ``GET /v1/status``
  (and ``/status``) gives a rollout's latest status;
- **the trace store**: ``GET /v1/traces/pointwise?tags=rollout_id:R`` gives the traces the
  processor reads the conversation back from.

The model answers, in order: answers queued with :meth:`GatewayStandin.script` (for any row,
or for one row), then the answer set for the row id (:meth:`GatewayStandin.set_answer`), then
the answer set for the prompt (the last user message), then ``responder``, then ``default``
(a 500). An answer is a string, a :class:`~svgkit.standin.chat.Completion`, or a fault
:class:`~svgkit.standin.base.Response` (``Response.error(429)``, ``Response.hang(5)``, ...); a
row's answer is served on every call for that row, so a fault there outlasts client retries.
:meth:`GatewayStandin.with_examples` answers every bundled example row with its response.

Everything the gateway receives is kept as sent (:attr:`GatewayStandin.log_entries`,
:meth:`GatewayStandin.received_text`) so tests can check that no key ever reaches it.
"""

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from itertools import count
from typing import Any

from .base import RecordedRequest, Request, Response, StandinServer
from .chat import Completion

__all__ = [
    "ROLLOUT_IDS",
    "Answer",
    "GatewayStandin",
    "LogEntry",
    "Responder",
    "Trace",
]

#: The ids eval-protocol writes into ``model_base_url``, in path order.
ROLLOUT_IDS = ("rollout_id", "invocation_id", "experiment_id", "run_id", "row_id")

_ROLLOUT_PREFIX = "".join(f"/{name}/(?P<{name}>[^/]+)" for name in ROLLOUT_IDS) + \
    r"(?:/encoded_base_url/(?P<encoded_base_url>[^/]+))?"
_CHAT = r"(?:/v1)?/chat/completions"

#: What the model answers with: text, a completion, or a fault response.
Answer = str | Completion | Response
#: Answers a model request behind the gateway.
Responder = Callable[[Request], Answer]

_trace_ids = count(1)


@dataclass(frozen=True)
class LogEntry:
    """One log record as ``FireworksTracingHttpHandler`` posted it (nothing removed).

    Attributes:
        program: ``eval_protocol`` unless the record said otherwise.
        message: The log message.
        severity: The level name (from the record's extras).
        tags: ``rollout_id:...`` and friends.
        status: ``{"code", "message", "details"}`` or ``None``.
        extras: The record's extras (``logger_name``, ``level`` and ``timestamp`` included).
        timestamp: When the record was made (ISO 8601, UTC).
        received_at: ``time.monotonic()`` when the gateway got it.
    """

    program: str
    message: str
    severity: str
    tags: tuple[str, ...]
    status: dict[str, Any] | None
    extras: dict[str, Any]
    timestamp: str
    received_at: float

    @property
    def rollout_ids(self) -> tuple[str, ...]:
        """The rollout ids this entry is tagged with."""
        return tuple(t.split(":", 1)[1] for t in self.tags if t.startswith("rollout_id:"))

    def to_json(self) -> dict[str, Any]:
        """The entry as the gateway's ``GET /logs`` returns it."""
        return {"timestamp": self.timestamp, "message": self.message, "severity": self.severity,
                "tags": list(self.tags), "status": self.status, "extras": self.extras, "program": self.program}


@dataclass(frozen=True)
class Trace:
    """One traced model call: the request, the answer and the ids from the path.

    Attributes:
        id: Trace id.
        ids: ``rollout_id``, ``invocation_id``, ... as the path carried them.
        input: The chat request body (model, messages, sampling parameters).
        output: The assistant message.
        timestamp: When it was answered (ISO 8601, UTC).
    """

    id: str
    ids: dict[str, str]
    input: dict[str, Any]
    output: dict[str, Any]
    timestamp: str

    @property
    def tags(self) -> list[str]:
        """``rollout_id:R``, ``invocation_id:I``, ... (how the gateway tags a trace)."""
        return [f"{k}:{self.ids[k]}" for k in ROLLOUT_IDS if k in self.ids]

    def to_json(self) -> dict[str, Any]:
        """The trace as ``GET /v1/traces/pointwise`` returns it."""
        return {"id": self.id, "name": "chat-completion", "timestamp": self.timestamp, "tags": self.tags,
                "input": self.input, "output": self.output, "observations": []}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _last_user_text(body: Mapping[str, Any]) -> str | None:
    for message in reversed(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else None
    return None


class GatewayStandin(StandinServer):
    """Fireworks' tracing gateway and the model behind it, on ``127.0.0.1`` (see the module docs).

    Args:
        answers: Answer per row id (``row_id`` in the model URL), served on every call for that row.
        prompt_answers: Answer per prompt (the last user message), when the row has none.
        responder: Chooses the answer from the request when nothing above matched.
        default: The answer when nothing matched and there is no responder (a 500).
        model_delay_s: Every completion takes at least this long (a slow model).
        require_key: If set, a model call without ``Authorization: Bearer <require_key>`` gets
            a 401, as a real model would (it is compared, never recorded).
        port: The port (0: any free one).
    """

    def __init__(self, *, answers: Mapping[str, Answer] | None = None,
                 prompt_answers: Mapping[str, Answer] | None = None, responder: Responder | None = None,
                 default: Answer | None = None, model_delay_s: float = 0.0, require_key: str | None = None,
                 port: int = 0) -> None:
        super().__init__(port=port, name="svgkit-gateway-standin")
        self.responder = responder
        self.default: Answer = default or Response.error(500, "gateway stand-in: no answer for this request")
        self.model_delay_s = model_delay_s
        self._require_key = require_key
        self._answers: dict[str, Answer] = dict(answers or {})
        self._prompt_answers: dict[str, Answer] = dict(prompt_answers or {})
        self._queued: dict[str | None, deque[Answer]] = {}
        self._logs: list[LogEntry] = []
        self._traces: list[Trace] = []
        self._data_lock = threading.Lock()
        self.add_route("POST", _ROLLOUT_PREFIX + _CHAT, self._complete)
        self.add_route("POST", _CHAT, self._complete)
        self.add_route("POST", r"(?:/v1)?/logs", self._post_log)
        self.add_route("GET", r"(?:/v1)?/logs", self._search_logs)
        self.add_route("GET", r"(?:/v1)?/status", self._status)
        self.add_route("GET", r"/v1(?:/project_id/[^/]+)?/traces/pointwise", self._pointwise_traces)
        self.add_route("GET", r"/", lambda r: Response.json({"status": "ok", "service": self.name}))

    @classmethod
    def with_examples(cls, **kwargs: Any) -> "GatewayStandin":
        """A gateway whose model answers with svgkit's bundled example responses.

        Each example row (``row_id`` = example id, as :func:`svgkit.dataset.examples_to_rows`
        writes it) gets its own response; any other row whose prompt is an example's prompt
        gets that prompt's first example. The answers are hand-written, not model output.
        """
        from ..dataset import examples_to_rows, load_bundled_prompts, load_examples

        examples = load_examples()
        rows = examples_to_rows(examples, load_bundled_prompts())
        answers: dict[str, Answer] = {ex.example_id: ex.response for ex in examples}
        prompt_answers: dict[str, Answer] = {}
        for ex, row in zip(examples, rows, strict=True):
            prompt_answers.setdefault(row["messages"][0]["content"], ex.response)
        answers.update(kwargs.pop("answers", None) or {})
        prompt_answers.update(kwargs.pop("prompt_answers", None) or {})
        return cls(answers=answers, prompt_answers=prompt_answers, **kwargs)

    # ------------------------------------------------------------------ URLs
    @property
    def model_base_url(self) -> str:
        """``http://localhost:PORT``: give this to ``RemoteRolloutProcessor(model_base_url=...)``.

        It must say ``localhost``: eval-protocol writes the rollout ids into the path only for
        ``http://localhost...`` (and the Fireworks hosts), never for ``http://127.0.0.1...``.
        """
        return f"http://localhost:{self.port}"

    @property
    def gateway_url(self) -> str:
        """Where the rollout server's tracing handler posts (``FW_TRACING_GATEWAY_BASE_URL``)."""
        return self.url

    # ------------------------------------------------------------------ answers
    def set_answer(self, row_id: str, answer: Answer) -> None:
        """Answer every model call for ``row_id`` with ``answer`` (a fault stays until replaced)."""
        with self._data_lock:
            self._answers[row_id] = answer

    def script(self, *answers: Answer, row_id: str | None = None) -> None:
        """Serve ``answers`` once each, in order, to the next model calls (for ``row_id`` only if given)."""
        with self._data_lock:
            self._queued.setdefault(row_id, deque()).extend(answers)

    def _answer_for(self, request: Request, body: Mapping[str, Any]) -> Answer:
        row_id = request.params.get("row_id")
        with self._data_lock:
            for key in (row_id, None) if row_id else (None,):
                queue = self._queued.get(key)
                if queue:
                    return queue.popleft()
            if row_id and row_id in self._answers:
                return self._answers[row_id]
            prompt = _last_user_text(body)
            if prompt is not None and prompt in self._prompt_answers:
                return self._prompt_answers[prompt]
        return self.responder(request) if self.responder else self.default

    def _complete(self, request: Request) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return Response.error(400, "gateway stand-in: a chat request needs a JSON body with messages")
        if self._require_key is not None and request.bearer != self._require_key:
            return Response.error(401, "gateway stand-in: invalid or missing API key")
        answer = self._answer_for(request, body)
        if isinstance(answer, Response):
            return answer
        completion = Completion(answer) if isinstance(answer, str) else answer
        if self.model_delay_s > completion.delay_s:
            completion = replace(completion, delay_s=self.model_delay_s)
        ids = {k: v for k, v in request.params.items() if k in ROLLOUT_IDS}
        if "rollout_id" in ids:  # the real gateway tags traces from the path; without ids, nothing to tag
            content = json.dumps(completion.content) if isinstance(completion.content, dict | list) \
                else completion.content
            trace = Trace(f"trace-{next(_trace_ids)}", ids, body, {"role": "assistant", "content": content}, _now())
            with self._data_lock:
                self._traces.append(trace)
        return completion(request)

    # ------------------------------------------------------------------ logs and status
    def _post_log(self, request: Request) -> Response:
        payload = request.json()
        if not isinstance(payload, dict) or not isinstance(payload.get("tags"), list):
            return Response.error(400, "gateway stand-in: a log needs a JSON body with tags")
        extras = payload.get("extras") if isinstance(payload.get("extras"), dict) else {}
        status = payload.get("status") if isinstance(payload.get("status"), dict) else None
        entry = LogEntry(str(payload.get("program") or "eval_protocol"), str(payload.get("message") or ""),
                         str(extras.get("level") or "INFO"), tuple(str(t) for t in payload["tags"]), status,
                         extras, str(extras.get("timestamp") or _now()), time.monotonic())
        with self._data_lock:
            self._logs.append(entry)
        return Response.json({"ok": True})

    def _search_logs(self, request: Request) -> Response:
        tag = request.query.get("tags")  # eval-protocol sends one tag
        program = request.query.get("program")
        limit = int(request.query.get("limit") or 100)
        entries = [e for e in reversed(self.log_entries) if (tag is None or tag in e.tags)
                   and (program is None or e.program == program)]
        return Response.json({"entries": [e.to_json() for e in entries[:limit]]})

    def _status(self, request: Request) -> Response:
        rollout_id = request.query.get("rollout_id")
        if not rollout_id:
            return Response.error(400, "gateway stand-in: /status needs ?rollout_id=")
        latest = self.status(rollout_id)
        return Response.json({"rollout_id": rollout_id,
                              "status": {"code": latest.status["code"]} if latest else None,
                              "extras": latest.extras if latest else None})

    def _pointwise_traces(self, request: Request) -> Response:
        tag = request.query.get("tags")
        limit = int(request.query.get("limit") or 100)
        traces = [t.to_json() for t in self.traces() if tag is None or tag in t.tags]
        return Response.json({"traces": traces[:limit]})

    # ------------------------------------------------------------------ what it received
    @property
    def log_entries(self) -> list[LogEntry]:
        """Every log entry received, oldest first."""
        with self._data_lock:
            return list(self._logs)

    def logs_for(self, rollout_id: str) -> list[LogEntry]:
        """The entries tagged with ``rollout_id``, oldest first."""
        return [e for e in self.log_entries if rollout_id in e.rollout_ids]

    def status(self, rollout_id: str) -> LogEntry | None:
        """The latest entry with a status for ``rollout_id`` (what ``/status`` reports), if any."""
        with_status = [e for e in self.logs_for(rollout_id) if e.status and e.status.get("code") is not None]
        return with_status[-1] if with_status else None

    def final_statuses(self) -> dict[str, LogEntry]:
        """The latest status entry of every rollout that logged one."""
        out: dict[str, LogEntry] = {}
        for entry in self.log_entries:
            if entry.status and entry.status.get("code") is not None:
                for rid in entry.rollout_ids:
                    out[rid] = entry
        return out

    def traces(self, rollout_id: str | None = None) -> list[Trace]:
        """Traced model calls (of one rollout if given), oldest first."""
        with self._data_lock:
            return [t for t in self._traces if rollout_id is None or t.ids.get("rollout_id") == rollout_id]

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """The model calls received (secret headers redacted, bodies as sent)."""
        return self.requests_to("POST", rf"(?:{_ROLLOUT_PREFIX})?{_CHAT}")

    def received_text(self) -> str:
        """Everything the gateway stored or was sent, as one text: paths, non-secret headers,
        bodies and log entries. A key found here has leaked (the stand-in redacts only the
        ``Authorization`` and API-key headers, and only secrets it was told about)."""
        parts: list[str] = []
        for r in self.requests:
            parts += [r.path, json.dumps(r.headers), r.body.decode("utf-8", errors="replace")]
        parts += [json.dumps(e.to_json()) for e in self.log_entries]
        parts += [json.dumps(t.to_json()) for t in self.traces()]
        return "\n".join(parts)

    def clear(self) -> None:
        """Forget requests, scripts, logs and traces (row and prompt answers stay)."""
        super().clear()
        with self._data_lock:
            self._logs.clear()
            self._traces.clear()
            self._queued.clear()

