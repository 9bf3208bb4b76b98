"""A remote rollout server for Eval Protocol: the SVG agent's single turn, run in the background.

Start it with ``python -m svgkit.rollout_server --host 127.0.0.1 --port 8000`` (FastAPI served
by uvicorn). Eval Protocol's ``RemoteRolloutProcessor`` (the evaluator's remote mode) posts one
``InitRequest`` per rollout to ``POST /init``; the server:

1. validates it and answers at once (``200 {"status": "accepted"}``), or ``400`` for a request
   it can never run, or ``503`` with ``Retry-After`` when it is saturated (the processor retries);
2. is idempotent per rollout id: the processor re-posts the same rollout id after a 5xx, and a
   re-post of an id it already accepted starts nothing new (``200 {"status": "duplicate"}``);
3. runs the rollout in the background, at most ``max_concurrency`` at once: one chat completion
   through the OpenAI client at the request's ``model_base_url`` (which carries the rollout ids,
   so the tracing gateway records the conversation), forwarding every sampling parameter
   (``extra_body`` included; the ``fireworks_ai/`` prefix removed; see :func:`build_model_call`);
4. reports the end through ``FireworksTracingHttpHandler`` (to ``FW_TRACING_GATEWAY_BASE_URL``):
   one log record tagged with the rollout id, carrying the terminal ``Status`` and extras
   (answer length, whether an SVG was found, tokens, timings), which the processor copies into
   ``row.execution_metadata.extra``. Failures get their own status (:func:`classify_model_error`).

``GET /`` is a health check with the server's load.

The caller's Fireworks key arrives in the request body. It is used for the model call only, and
it never appears in a log line, a status, an extra or an error answer. The server never sends its
own key to a caller-chosen URL, and calls only hosts on its allow-list
(``SVGKIT_ROLLOUT_ALLOWED_MODEL_HOSTS``). Options: :class:`ServerOptions` (defaults in
:data:`svgkit.config.ROLLOUT_SERVER`, environment ``SVGKIT_ROLLOUT_<NAME>``, or the command line).
"""

import argparse
import asyncio
import contextlib
import functools
import gc
import inspect
import itertools
import json
import logging
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import openai
from eval_protocol.log_utils.fireworks_tracing_http_handler import FireworksTracingHttpHandler
from eval_protocol.types.remote_rollout_processor import InitRequest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ._ep import Status
from .config import ROLLOUT_SERVER, Secret
from .svg import extract_svg

__all__ = [
    "DROPPED_PARAMS",
    "SERVICE_NAME",
    "ModelCall",
    "RolloutOutcome",
    "RolloutServer",
    "RunningServer",
    "ServerOptions",
    "ServerProcess",
    "State",
    "build_model_call",
    "classify_model_error",
    "create_app",
    "freeze_startup_heap",
    "main",
    "serve_in_thread",
    "start_server_process",
]

#: Name in the health check, the extras and the ``server`` of every status record.
SERVICE_NAME = "svgkit-rollout-server"

logger = logging.getLogger(__name__)

#: ``completion_params`` keys that are about transport or litellm, never sent to the model.
#: ``base_url``/``api_base`` are already folded into ``model_base_url`` by eval-protocol.
DROPPED_PARAMS = frozenset({
    "api_key", "api_base", "base_url", "api_version", "organization", "custom_llm_provider",
    "num_retries", "max_retries", "timeout", "request_timeout", "drop_params", "mock_response",
    "metadata", "headers", "extra_headers", "extra_query", "stream", "stream_options", "caching",
    "fallbacks", "deployment_id", "litellm_logging_obj", "messages", "model", "tools",
})

#: Keyword arguments the OpenAI client's ``chat.completions.create`` takes as named parameters.
_OPENAI_PARAMS = frozenset(inspect.signature(openai.resources.chat.completions.AsyncCompletions.create).parameters)
_MESSAGE_FIELDS = ("role", "content", "tool_calls", "tool_call_id", "name")
_MAX_MESSAGE_CHARS = 1000
_status_loggers = itertools.count(1)


# --------------------------------------------------------------------------- options
@dataclass(frozen=True)
class ServerOptions:
    """How the server runs. Defaults: :data:`svgkit.config.ROLLOUT_SERVER`.

    Attributes:
        max_concurrency: Model calls in flight at once.
        max_queued: Accepted rollouts waiting for a slot; beyond both, ``/init`` answers 503.
        model_timeout_s: One model call (the OpenAI client's timeout).
        model_max_retries: The OpenAI client's own retries of 429, 5xx and connection errors.
        rollout_deadline_s: A whole rollout, retries included, once it has a slot.
        admission_quiet_s: A rollout with a slot starts its model call once ``/init`` has been
            quiet this long (answering requests comes first: a burst of them is not slowed by
            the model calls it starts)...
        admission_max_defer_s: ... or after this long at most.
        retry_after_s: ``Retry-After`` of a 503.
        remembered_rollouts: Rollout ids kept for idempotency.
        max_init_bytes: Largest ``/init`` body accepted.
        allowed_model_hosts: Hosts a ``model_base_url`` may point at.
        model_prefixes: Model-name prefixes (litellm routing) removed before the call.
        gateway_url: Where status records go (default ``FW_TRACING_GATEWAY_BASE_URL``, else
            Fireworks' tracing gateway).
    """

    max_concurrency: int = ROLLOUT_SERVER.max_concurrency
    max_queued: int = ROLLOUT_SERVER.max_queued
    model_timeout_s: float = ROLLOUT_SERVER.model_timeout_s
    model_max_retries: int = ROLLOUT_SERVER.model_max_retries
    rollout_deadline_s: float = ROLLOUT_SERVER.rollout_deadline_s
    admission_quiet_s: float = ROLLOUT_SERVER.admission_quiet_s
    admission_max_defer_s: float = ROLLOUT_SERVER.admission_max_defer_s
    retry_after_s: int = ROLLOUT_SERVER.retry_after_s
    remembered_rollouts: int = ROLLOUT_SERVER.remembered_rollouts
    max_init_bytes: int = ROLLOUT_SERVER.max_init_bytes
    allowed_model_hosts: tuple[str, ...] = ROLLOUT_SERVER.allowed_model_hosts
    model_prefixes: tuple[str, ...] = ROLLOUT_SERVER.model_prefixes
    gateway_url: str | None = None

    def __post_init__(self) -> None:
        for name in ("max_concurrency", "model_timeout_s", "rollout_deadline_s", "remembered_rollouts",
                     "max_init_bytes"):
            if not getattr(self, name) > 0:
                raise ValueError(f"ServerOptions.{name} must be positive, not {getattr(self, name)!r}")
        for name in ("max_queued", "model_max_retries", "retry_after_s", "admission_quiet_s",
                     "admission_max_defer_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"ServerOptions.{name} must be zero or more, not {getattr(self, name)!r}")
        if not self.allowed_model_hosts:
            raise ValueError("ServerOptions.allowed_model_hosts is empty: the server could call no model")

    @property
    def capacity(self) -> int:
        """Rollouts accepted at once (running plus queued); more get 503."""
        return self.max_concurrency + self.max_queued

    @property
    def resolved_gateway_url(self) -> str:
        """The gateway status records are posted to."""
        return (self.gateway_url or os.environ.get("FW_TRACING_GATEWAY_BASE_URL") or ROLLOUT_SERVER.gateway_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "ServerOptions":
        """Options from ``SVGKIT_ROLLOUT_<NAME>`` variables (hosts and prefixes comma-separated).

        Args:
            env: Mapping to read instead of ``os.environ``.
            overrides: Values that win over the environment (``None`` values are ignored).

        Raises:
            ValueError: A variable does not parse, or a value is out of range.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = ROLLOUT_SERVER.env_prefix + f.name.upper()
            raw = (env.get(name) or "").strip()
            if not raw:
                continue
            kind = type(f.default) if f.default is not None else str
            try:
                values[f.name] = tuple(h.strip() for h in raw.split(",") if h.strip()) if kind is tuple \
                    else kind(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a valid {kind.__name__}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


# --------------------------------------------------------------------------- the model call
@dataclass(frozen=True)
class ModelCall:
    """One chat completion as the server will make it.

    Attributes:
        model: The model name, routing prefix removed.
        messages: OpenAI-style messages.
        kwargs: Every other argument of ``chat.completions.create`` (``extra_body`` included).
        dropped: ``completion_params`` keys not sent (transport and litellm keys).
        moved: Keys the OpenAI client has no parameter for, sent in ``extra_body`` instead
            (``top_k``, ``min_p``, ``repetition_penalty``, ...: Fireworks reads them there).
    """

    model: str
    messages: list[dict[str, Any]]
    kwargs: dict[str, Any]
    dropped: tuple[str, ...] = ()
    moved: tuple[str, ...] = ()


def _strip_prefix(model: str, prefixes: Sequence[str]) -> str:
    for prefix in prefixes:
        if model.startswith(prefix):
            return model[len(prefix):]
    return model


def build_model_call(completion_params: Mapping[str, Any], messages: Sequence[Any], *,
                     tools: Sequence[Mapping[str, Any]] | None = None,
                     prefixes: Sequence[str] = ROLLOUT_SERVER.model_prefixes) -> ModelCall:
    """Turn an ``InitRequest``'s completion parameters into one OpenAI-client call.

    - ``model`` loses its litellm prefix (``fireworks_ai/accounts/...`` becomes ``accounts/...``);
    - parameters the OpenAI client names (``temperature``, ``max_tokens``, ``top_p``, ``n``,
      ``stop``, ``seed``, ``reasoning_effort``, ``response_format``, ...) are passed as they are;
    - ``extra_body`` is sent as it is (it wins over a moved key of the same name);
    - transport and litellm keys (:data:`DROPPED_PARAMS`: ``api_key``, ``api_base``,
      ``num_retries``, ``stream``, ...) are dropped and listed in ``dropped``;
    - any other key (``top_k``, ``min_p``, ...) goes into ``extra_body`` and is listed in ``moved``.

    Raises:
        ValueError: No model, an ``extra_body`` that is not an object, or no messages.
    """
    model = completion_params.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError("completion_params.model is missing: say which model the rollout calls")
    extra_body = completion_params.get("extra_body")
    if extra_body is not None and not isinstance(extra_body, Mapping):
        raise ValueError("completion_params.extra_body must be an object")
    if not messages:
        raise ValueError("messages is empty: a rollout needs at least the user's prompt")
    kwargs: dict[str, Any] = {}
    moved_body: dict[str, Any] = {}
    dropped, moved = [], []
    for key, value in completion_params.items():
        if key == "extra_body":
            continue
        if key in DROPPED_PARAMS:
            if key not in ("model", "messages"):
                dropped.append(key)
        elif key in _OPENAI_PARAMS:
            if value is not None:
                kwargs[key] = value
        else:
            moved.append(key)
            moved_body[key] = value
    body = {**moved_body, **dict(extra_body or {})}
    if body:
        kwargs["extra_body"] = body
    if tools:
        kwargs["tools"] = list(tools)
    clean = []
    for m in messages:
        raw = m.dump_mdoel_for_chat_completion_request() if hasattr(m, "dump_mdoel_for_chat_completion_request") \
            else dict(m)
        clean.append({k: raw[k] for k in _MESSAGE_FIELDS if raw.get(k) is not None})
    return ModelCall(_strip_prefix(model.strip(), prefixes), clean, kwargs, tuple(sorted(dropped)),
                     tuple(sorted(moved)))


# --------------------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class RolloutOutcome:
    """How a rollout ended: the terminal status and the extras logged with it."""

    status: Status
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def code_name(self) -> str:
        """``FINISHED``, ``RESOURCE_EXHAUSTED``, ..."""
        return Status.Code(self.status.code).name


def _redact(text: str, secret: Secret | None) -> str:
    value = secret.get() if secret else None
    if value and len(value) >= 4:
        text = text.replace(value, "***")
    return text if len(text) <= _MAX_MESSAGE_CHARS else text[:_MAX_MESSAGE_CHARS] + "..."


def _error_detail(exc: BaseException, key: Secret | None) -> str:
    detail = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return _redact(str(detail), key)


def classify_model_error(exc: BaseException, *, key: Secret | None = None,
                         timeout_s: float | None = None) -> RolloutOutcome:
    """The terminal status for a failed model call.

    ===================================  ======================  =================================
    the model (or the call)              status                  eval-protocol then
    ===================================  ======================  =================================
    HTTP 429                             ``RESOURCE_EXHAUSTED``  retries the row
    HTTP 401 / 403                       ``PERMISSION_DENIED``   retries the row
    HTTP 404                             ``NOT_FOUND``           retries the row
    no answer in time                    ``DEADLINE_EXCEEDED``   retries the row
    anything else (500, bad answer...)   ``INTERNAL``            fails the row
    ===================================  ======================  =================================

    The message says what happened in words, since eval-protocol turns every failed row's status
    into ``INTERNAL`` with this message once it gives up. ``key`` is removed from it.
    """
    detail = _error_detail(exc, key)
    http = getattr(exc, "status_code", None)
    extras: dict[str, Any] = {"server": SERVICE_NAME, "error_type": type(exc).__name__}
    if http is not None:
        extras["http_status"] = http
    if isinstance(exc, openai.RateLimitError):
        status = Status.rollout_resource_exhausted_error(f"the model answered HTTP 429 (rate limited): {detail}")
    elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        status = Status.rollout_permission_denied_error(
            f"the model refused the key (HTTP {http}): {detail}")
    elif isinstance(exc, openai.NotFoundError):
        status = Status.rollout_not_found_error(f"the model or its URL was not found (HTTP 404): {detail}")
    elif isinstance(exc, openai.APITimeoutError | TimeoutError):
        limit = f" within {timeout_s:g} s" if timeout_s else " in time"
        status = Status.rollout_deadline_exceeded_error(f"the model did not answer{limit}")
    elif isinstance(exc, openai.APIStatusError):
        status = Status.rollout_internal_error(f"the model answered HTTP {http}: {detail}")
    elif isinstance(exc, openai.APIConnectionError):
        status = Status.rollout_internal_error(f"could not reach the model: {detail}")
    else:
        status = Status.rollout_internal_error(f"rollout failed: {type(exc).__name__}: {detail}")
    return RolloutOutcome(status, extras)


# --------------------------------------------------------------------------- the server
#: Where a rollout is: waiting for a slot, running, or done.
State = Literal["queued", "running", "done"]


@dataclass
class _Rollout:
    rollout_id: str
    model_base_url: str
    call: ModelCall
    key: Secret
    accepted_at: float
    state: State = "queued"
    outcome: RolloutOutcome | None = None


class RolloutServer:
    """The rollouts in progress, their bounded concurrency, and how they are reported.

    :func:`create_app` wraps one in a FastAPI app; use that (or :func:`serve_in_thread`).
    """

    def __init__(self, options: ServerOptions | None = None) -> None:
        self.options = options or ServerOptions.from_env()
        self._rollouts: OrderedDict[str, _Rollout] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._active = 0
        self._accepted = 0
        self._finished = 0
        self._slots: asyncio.Semaphore | None = None
        self._http: httpx.AsyncClient | None = None
        self._handler: logging.Handler | None = None
        self._reporter: ThreadPoolExecutor | None = None
        self._warned_no_ids = False
        self._quiet: asyncio.Event | None = None
        self._quiet_timer: asyncio.TimerHandle | None = None
        #: Records on this logger are posted to the gateway (and propagate to the console).
        self.status_logger = logging.getLogger(f"{__name__}.status.{next(_status_loggers)}")

    # ------------------------------------------------------------------ lifecycle
    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        """Open the HTTP pool and the gateway handler; at shutdown, report unfinished rollouts."""
        opts = self.options
        self._slots = asyncio.Semaphore(opts.max_concurrency)
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._http = httpx.AsyncClient(limits=httpx.Limits(max_connections=opts.max_concurrency * 2,
                                                           max_keepalive_connections=opts.max_concurrency))
        self._reporter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gateway-status")
        self._handler = FireworksTracingHttpHandler(gateway_base_url=opts.resolved_gateway_url)
        self._handler.setLevel(logging.INFO)
        self.status_logger.setLevel(logging.INFO)
        self.status_logger.addHandler(self._handler)
        logger.info("%s: %d model calls at once, %d queued, gateway %s", SERVICE_NAME, opts.max_concurrency,
                    opts.max_queued, opts.resolved_gateway_url)
        try:
            yield
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=15)
            self._reporter.shutdown(wait=True)
            self.status_logger.removeHandler(self._handler)
            self._handler.close()
            await self._http.aclose()

    # ------------------------------------------------------------------ HTTP
    def health(self) -> dict[str, Any]:
        """What ``GET /`` answers: the service and its load."""
        from . import __version__

        running = sum(r.state == "running" for r in self._rollouts.values())
        return {"status": "ok", "service": SERVICE_NAME, "version": __version__, "running": running,
                "queued": self._active - running, "capacity": self.options.capacity,
                "accepted": self._accepted, "finished": self._finished}

    async def init(self, request: Request) -> JSONResponse:
        """``POST /init``: validate, accept (or refuse), and start the rollout in the background."""
        self._mark_busy()
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.options.max_init_bytes:
            return _error(413, f"request body over {self.options.max_init_bytes} bytes")
        body = await request.body()
        if len(body) > self.options.max_init_bytes:
            return _error(413, f"request body over {self.options.max_init_bytes} bytes")
        try:
            payload = json.loads(body)
        except ValueError:
            return _error(400, "the body is not JSON: send an Eval Protocol InitRequest")
        try:
            req = InitRequest.model_validate(payload)
        except ValidationError as exc:  # never echo the input: it holds the caller's key
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
                                 for e in exc.errors(include_input=False, include_url=False))
            return _error(400, f"not a valid InitRequest: {problems}")
        key = Secret(req.api_key)
        rollout_id = req.metadata.rollout_id.strip()
        if not rollout_id:
            return _error(400, "metadata.rollout_id is empty")
        known = self._rollouts.get(rollout_id)
        if known is not None:  # a retry re-posts the same rollout id: start nothing new
            return JSONResponse({"status": "duplicate", "rollout_id": rollout_id, "state": known.state})
        problem = self._url_problem(req.model_base_url)
        if problem:
            return _error(400, problem)
        try:
            call = build_model_call(req.completion_params, req.messages or [], tools=req.tools,
                                    prefixes=self.options.model_prefixes)
        except ValueError as exc:
            return _error(400, str(exc))
        if self._active >= self.options.capacity:
            return _error(503, f"saturated: {self._active} rollouts in progress (capacity "
                               f"{self.options.capacity}); retry later",
                          headers={"retry-after": str(self.options.retry_after_s)})
        assert req.model_base_url is not None  # checked by _url_problem
        if "/rollout_id/" not in urlsplit(req.model_base_url).path and not self._warned_no_ids:
            self._warned_no_ids = True
            logger.warning("model_base_url %s carries no rollout ids: the gateway cannot tag the trace and the "
                           "row will end NOT_FOUND (offline, use http://localhost:PORT, not 127.0.0.1)",
                           _safe_url(req.model_base_url))
        rollout = _Rollout(rollout_id, req.model_base_url.rstrip("/"), call, key, time.monotonic())
        self._remember(rollout)
        self._active += 1
        self._accepted += 1
        task = asyncio.create_task(self._run(rollout), name=f"rollout-{rollout_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return JSONResponse({"status": "accepted", "rollout_id": rollout_id})

    def _mark_busy(self) -> None:
        """An ``/init`` arrived: new model calls wait until requests have been quiet a moment."""
        if self._quiet is None or not self.options.admission_quiet_s:
            return
        self._quiet.clear()
        if self._quiet_timer is not None:
            self._quiet_timer.cancel()
        self._quiet_timer = asyncio.get_running_loop().call_later(self.options.admission_quiet_s, self._quiet.set)

    async def _admissions_first(self) -> None:
        assert self._quiet is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), self.options.admission_max_defer_s)

    def _url_problem(self, url: str | None) -> str | None:
        if not url:
            return "model_base_url is missing: the server needs to know where to call the model"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "model_base_url must be an http(s) URL"
        if parts.username or parts.password:
            return "model_base_url must not carry credentials"
        if parts.hostname.lower() not in {h.lower() for h in self.options.allowed_model_hosts}:
            return (f"model_base_url host {parts.hostname!r} is not allowed here (allowed: "
                    f"{', '.join(self.options.allowed_model_hosts)}; set SVGKIT_ROLLOUT_ALLOWED_MODEL_HOSTS)")
        return None

    def _remember(self, rollout: _Rollout) -> None:
        self._rollouts[rollout.rollout_id] = rollout
        while len(self._rollouts) > self.options.remembered_rollouts:
            oldest_id, oldest = next(iter(self._rollouts.items()))
            if oldest.state != "done":
                break
            del self._rollouts[oldest_id]

    # ------------------------------------------------------------------ rollouts
    async def _run(self, rollout: _Rollout) -> None:
        assert self._slots is not None
        try:
            async with self._slots:
                rollout.state = "running"
                await self._admissions_first()
                queued_s = time.monotonic() - rollout.accepted_at
                try:
                    outcome = await asyncio.wait_for(self._call_model(rollout),
                                                     self.options.rollout_deadline_s)
                except TimeoutError as exc:
                    outcome = classify_model_error(exc, key=rollout.key, timeout_s=self.options.rollout_deadline_s)
                except Exception as exc:  # every failure becomes a status, never a lost rollout
                    outcome = classify_model_error(exc, key=rollout.key, timeout_s=self.options.model_timeout_s)
                outcome.extras.setdefault("queue_seconds", round(queued_s, 3))
        except asyncio.CancelledError:
            outcome = RolloutOutcome(Status.rollout_unavailable_error(
                "the rollout server shut down before the rollout finished"), {"server": SERVICE_NAME})
            await self._report(rollout, outcome)
            raise
        await self._report(rollout, outcome)

    async def _call_model(self, rollout: _Rollout) -> RolloutOutcome:
        opts = self.options
        client = openai.AsyncOpenAI(base_url=rollout.model_base_url, api_key=rollout.key.get() or "unset",
                                    http_client=self._http, max_retries=opts.model_max_retries,
                                    timeout=opts.model_timeout_s)
        call = rollout.call
        started = time.monotonic()
        completion = await client.chat.completions.create(model=call.model, messages=call.messages, **call.kwargs)
        seconds = time.monotonic() - started
        if not completion.choices:
            raise ValueError("the model answered with no choices")
        choice = completion.choices[0]
        content = choice.message.content if isinstance(choice.message.content, str) else ""
        found = await asyncio.to_thread(extract_svg, content)
        usage = completion.usage
        extras = {
            "server": SERVICE_NAME,
            "model": call.model,
            "answer_chars": len(content),
            "svg_found": found.svg is not None,
            "svg_extraction": found.method,
            "finish_reason": choice.finish_reason,
            "prompt_tokens": usage.prompt_tokens if usage else None,
            "completion_tokens": usage.completion_tokens if usage else None,
            "model_seconds": round(seconds, 3),
            "dropped_params": list(call.dropped),
            "moved_to_extra_body": list(call.moved),
        }
        return RolloutOutcome(Status.rollout_finished(), extras)

    async def _report(self, rollout: _Rollout, outcome: RolloutOutcome) -> None:
        """Post the terminal status (with extras) to the gateway, off the event loop."""
        rollout.outcome, rollout.state = outcome, "done"
        self._active -= 1
        self._finished += 1
        level = logging.INFO if outcome.status.is_finished() else logging.WARNING
        message = f"rollout {rollout.rollout_id} {outcome.code_name}: {outcome.status.message}"
        emit = functools.partial(self.status_logger.log, level, message, extra={
            "rollout_id": rollout.rollout_id, "status": outcome.status, "extras": outcome.extras})
        assert self._reporter is not None
        with contextlib.suppress(RuntimeError):  # the reporter is gone only after shutdown finished
            await asyncio.get_running_loop().run_in_executor(self._reporter, emit)


def _error(status: int, message: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": status, "message": message}}, status_code=status, headers=headers)


def _safe_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}{parts.path}"


def create_app(options: ServerOptions | None = None) -> FastAPI:
    """The FastAPI app: ``POST /init`` and ``GET /`` (see the module docs).

    The :class:`RolloutServer` behind it is ``app.state.rollout_server``.
    """
    server = RolloutServer(options)
    app = FastAPI(title=SERVICE_NAME, lifespan=server.lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.rollout_server = server

    @app.get("/")
    async def health() -> dict[str, Any]:
        return server.health()

    @app.post("/init")
    async def init(request: Request) -> JSONResponse:
        try:
            return await server.init(request)
        except Exception as exc:  # a bug must not echo the request (it holds a key) into an error page
            logger.error("POST /init failed: %s", type(exc).__name__)
            return _error(500, f"the rollout server failed: {type(exc).__name__}")

    return app


# --------------------------------------------------------------------------- running it
@dataclass
class RunningServer:
    """A server running in a background thread of this process (see :func:`serve_in_thread`)."""

    url: str
    app: FastAPI
    _server: Any
    _thread: threading.Thread

    @property
    def rollout_server(self) -> RolloutServer:
        """The rollouts behind the app."""
        return self.app.state.rollout_server

    def stop(self, *, timeout_s: float = 20.0) -> None:
        """Shut down: unfinished rollouts are reported ``UNAVAILABLE`` to the gateway."""
        self._server.should_exit = True
        self._thread.join(timeout=timeout_s)

    def __enter__(self) -> "RunningServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(options: ServerOptions | None = None, *, host: str = "127.0.0.1", port: int = 0,
                    startup_timeout_s: float = 30.0) -> RunningServer:
    """Start the server in a daemon thread (for rehearsals and tests); ``port=0`` picks a free one.

    Uvicorn leaves this process's logging configuration alone and writes no access log.

    Raises:
        RuntimeError: The server did not start in time.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    app = create_app(options)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=SERVICE_NAME, daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"{SERVICE_NAME} did not start on {host}:{sock.getsockname()[1]}")
        time.sleep(0.02)
    return RunningServer(f"http://{host}:{sock.getsockname()[1]}", app, server, thread)


@dataclass
class ServerProcess:
    """``python -m svgkit.rollout_server`` running in a child process (see :func:`start_server_process`)."""

    url: str
    process: Any

    def stop(self, *, timeout_s: float = 30.0) -> int:
        """Terminate it (unfinished rollouts are reported ``UNAVAILABLE``); returns its exit code."""
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=timeout_s)

    def __enter__(self) -> "ServerProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server_process(*, port: int = 0, env: Mapping[str, str] | None = None, log_level: str = "warning",
                         output: Any = None, startup_timeout_s: float = 90.0) -> ServerProcess:
    """Start ``python -m svgkit.rollout_server`` on 127.0.0.1 in a child process and wait until it is healthy.

    Args:
        port: The port (0: a free one).
        env: The child's whole environment (default: this process's).
        log_level: ``debug``, ``info``, ``warning`` or ``error``.
        output: Where its stdout and stderr go (a file; default: discarded).
        startup_timeout_s: How long to wait for ``GET /`` to answer.

    Raises:
        RuntimeError: It exited or did not answer in time.
    """
    import subprocess
    import sys

    if not port:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "svgkit.rollout_server", "--host", "127.0.0.1",
                                "--port", str(port), "--log-level", log_level],
                               env=dict(os.environ if env is None else env),
                               stdout=output if output is not None else subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup_timeout_s
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return ServerProcess(url, process)
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
            raise RuntimeError(f"{SERVICE_NAME} did not start on port {port} (exit code {process.poll()})")
        time.sleep(0.2)


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m svgkit.rollout_server``: serve until interrupted."""
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m svgkit.rollout_server", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface (0.0.0.0 in a container)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--max-concurrency", type=int, help="model calls at once")
    parser.add_argument("--max-queued", type=int, help="accepted rollouts waiting for a slot")
    parser.add_argument("--model-timeout", type=float, dest="model_timeout_s", help="seconds per model call")
    parser.add_argument("--model-max-retries", type=int, help="OpenAI client retries per model call")
    parser.add_argument("--rollout-deadline", type=float, dest="rollout_deadline_s", help="seconds per rollout")
    parser.add_argument("--allowed-model-hosts", help="comma-separated hosts model_base_url may use")
    parser.add_argument("--gateway-url", help="where status records go (default FW_TRACING_GATEWAY_BASE_URL)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    args = parser.parse_args(argv)
    hosts = tuple(h.strip() for h in args.allowed_model_hosts.split(",") if h.strip()) \
        if args.allowed_model_hosts else None
    try:
        options = ServerOptions.from_env(
            max_concurrency=args.max_concurrency, max_queued=args.max_queued, model_timeout_s=args.model_timeout_s,
            model_max_retries=args.model_max_retries, rollout_deadline_s=args.rollout_deadline_s,
            allowed_model_hosts=hosts, gateway_url=args.gateway_url)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(options)
    freeze_startup_heap()
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


def freeze_startup_heap() -> int:
    """Take everything allocated so far out of the garbage collector's full scans; returns how many objects.

    The server's heap is mostly imported modules (eval-protocol brings litellm: about 540,000
    tracked objects). A full collection walks every one of them: 280-390 ms measured on 2 cores,
    a stall of every ``/init`` in flight (it made the ``/init`` p95 370 ms with 50 concurrent
    requests). Frozen objects are never scanned again; whatever rollouts allocate later is
    collected as before. ``python -m svgkit.rollout_server`` calls this once before serving;
    :func:`serve_in_thread` does not, because the process (a notebook kernel, a test run) is
    not the server's to tune.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


if __name__ == "__main__":
    main()
