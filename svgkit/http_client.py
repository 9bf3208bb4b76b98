"""One HTTP layer for every OpenAI-compatible call: retries, hard deadlines, a circuit breaker, no keys in errors.

Generation (:mod:`svgkit.generate`) and the vision judge send their requests through
:class:`ChatClient`; any other client (the Fireworks helpers) can wrap its own calls in
:func:`send_with_retries` and get the same rules:

- :class:`RetryPolicy` says how often and how long to retry (defaults in
  :data:`svgkit.config.HTTP`): 408, 409, 429 and every 5xx, timeouts and dropped connections
  are retried with jittered exponential backoff or the server's ``Retry-After`` /
  ``retry-after-ms`` (capped); 401, 403 and 404 are fatal for a whole batch.
- Every attempt has a hard wall-clock deadline (``timeout_s``), body included: a server that
  trickles one byte a second cannot stretch it, because an httpx read timeout is per read and
  this one is per call. The whole call (all attempts and waits) has the policy's ``total_s``.
  A cancelled attempt closes its connection.
- A :class:`CircuitBreaker` shared by a batch stops asking after a number of consecutive
  timeouts, dropped connections or 5xx (or at once after a fatal status).
- A 200 whose body is not JSON, or a chat completion of the wrong shape, is a failure with
  its reason (:class:`BadResponse`), never an empty success. It is not retried: it was paid for.
- Every error text is passed through :func:`scrub_secrets` before it is returned or logged.

Nothing here raises for a failed call: the result is a :class:`CallOutcome` whose ``error``
says what went wrong.

Example::

    async with ChatClient(base_url=url, api_key=key, timeout_s=30) as client:
        outcome = await client.complete({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    print(outcome.value.content if outcome.ok else outcome.error)
"""

import asyncio
import contextlib
import email.utils
import functools
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from svgkit.config import HTTP, Secret

__all__ = [
    "BadResponse",
    "CallOutcome",
    "ChatClient",
    "ChatReply",
    "CircuitBreaker",
    "RetryPolicy",
    "parse_chat_completion",
    "scrub_secrets",
    "send_with_retries",
]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

#: What a scrubbed secret is replaced by.
_REDACTED = "***"
#: Shorter strings are not treated as secrets (scrubbing "k" would shred every message).
_MIN_SECRET_CHARS = 4
#: Sent when a server needs no key (vLLM's convention); never the key of another service.
_PLACEHOLDER_KEY = "EMPTY"
#: How much of an unusable body an error quotes.
_QUOTE_CHARS = 120


# --------------------------------------------------------------------------- key scrubbing
def _char_pattern(ch: str) -> str:
    """The character itself, its percent-encoding and, for a space, ``+`` (matched ignoring case)."""
    encoded = "".join(f"%{byte:02X}" for byte in ch.encode())
    forms = [re.escape(ch), encoded]
    if ch == " ":
        forms.append(r"\+")
    return "(?:" + "|".join(forms) + ")"


@functools.lru_cache(maxsize=32)
def _secret_pattern(secret: str, min_prefix: int) -> re.Pattern[str]:
    """Matches the secret, any prefix of at least ``min_prefix`` characters, raw or URL-encoded."""
    head_len = min(len(secret), min_prefix)
    tail = ""
    for ch in reversed(secret[head_len:]):  # nested optional groups: the longest prefix present wins
        tail = f"(?:{_char_pattern(ch)}{tail})?"
    return re.compile("".join(_char_pattern(ch) for ch in secret[:head_len]) + tail, re.IGNORECASE)


def scrub_secrets(text: object, *secrets: str | Secret | None, min_prefix: int = HTTP.min_secret_prefix) -> str:
    """``text`` with every secret removed: whole, as any prefix of ``min_prefix`` or more characters,
    and URL-encoded (``%2F``, ``+`` for a space), in any letter case (a key's case changed is
    still most of the key).

    Use it on every error text that can reach a file, a verdict or a log line.

    Args:
        text: Anything; it is turned into a string first (an exception, a body).
        secrets: Keys (str or :class:`~svgkit.config.Secret`); ``None`` and strings shorter than
            4 characters are skipped.
        min_prefix: Shortest prefix of a secret that is removed.

    Returns:
        The text with each match replaced by ``***``.
    """
    out = str(text)
    values = {s.get() if isinstance(s, Secret) else s for s in secrets}
    for secret in sorted((v for v in values if v and len(v) >= _MIN_SECRET_CHARS), key=len, reverse=True):
        out = _secret_pattern(secret, min_prefix).sub(_REDACTED, out)
    return out


def _clip(text: str, limit: int = HTTP.max_error_chars) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- policy and breaker
@dataclass(frozen=True)
class RetryPolicy:
    """How a call is retried; defaults from :data:`svgkit.config.HTTP`.

    Attributes:
        max_retries: Retries after the first attempt.
        base_delay_s: First backoff delay; doubled for every further retry.
        max_delay_s: Longest single wait, also the cap on a server's ``Retry-After``.
        total_s: Hard budget of the whole call, attempts and waits included: no attempt runs
            past it and no retry starts that could not begin before it.
        jitter: A computed backoff is multiplied by a random factor in ``[1 - jitter, 1]``
            (a server's ``Retry-After`` is used as given).
        retry_statuses: Statuses retried besides every 5xx.
        fatal_statuses: Statuses that fail the rest of a batch too (with a :class:`CircuitBreaker`).
    """

    max_retries: int = HTTP.max_retries
    base_delay_s: float = HTTP.retry_base_delay_s
    max_delay_s: float = HTTP.retry_max_delay_s
    total_s: float = HTTP.retry_total_s
    jitter: float = HTTP.retry_jitter
    retry_statuses: frozenset[int] = HTTP.retry_statuses
    fatal_statuses: frozenset[int] = HTTP.fatal_statuses

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be 0 or more, not {self.max_retries}")
        if self.base_delay_s < 0 or self.max_delay_s < 0:
            raise ValueError("base_delay_s and max_delay_s must be 0 or more")
        if not self.total_s > 0:
            raise ValueError(f"total_s must be more than 0, not {self.total_s}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"jitter must be between 0 and 1, not {self.jitter}")

    def retries(self, status: int) -> bool:
        """Whether a response with this status is worth another attempt."""
        return status in self.retry_statuses or 500 <= status <= 599

    def wait_s(self, retry: int, headers: Mapping[str, str] | None = None, *,
               rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (1 for the first).

        A ``retry-after-ms`` or ``Retry-After`` header (seconds or an HTTP date) in ``headers``
        wins over the backoff; either way the wait is at most ``max_delay_s``.
        """
        hinted = _retry_after_s(headers)
        if hinted is not None:
            return min(hinted, self.max_delay_s)
        delay = min(self.max_delay_s, self.base_delay_s * 2 ** max(0, retry - 1))
        return delay * (rng or random).uniform(1.0 - self.jitter, 1.0)


def _retry_after_s(headers: Mapping[str, str] | None) -> float | None:
    if not headers:
        return None
    value = headers.get("retry-after-ms")
    if value is not None:
        with contextlib.suppress(ValueError):
            return max(0.0, float(value) / 1000.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class CircuitBreaker:
    """Stops a batch asking an endpoint that keeps failing; share one across a batch's calls.

    It opens after ``threshold`` consecutive timeouts, dropped connections, 408s or 5xx (any
    other answer resets the count), or at once through :meth:`trip` (a fatal status). Once
    open, :func:`send_with_retries` sends nothing more and says why.

    Args:
        threshold: Consecutive transient failures that open it.
    """

    def __init__(self, threshold: int = HTTP.breaker_threshold) -> None:
        if threshold < 1:
            raise ValueError(f"threshold must be at least 1, not {threshold}")
        self.threshold = threshold
        self.consecutive = 0
        self._reason: str | None = None

    @property
    def is_open(self) -> bool:
        """True once the batch should stop asking."""
        return self._reason is not None

    @property
    def reason(self) -> str | None:
        """Why it opened (free of keys), or ``None`` while closed."""
        return self._reason

    def record_success(self) -> None:
        """The endpoint answered usefully: the count starts again."""
        self.consecutive = 0

    def record_failure(self, error: str, *, transient: bool) -> None:
        """Count a failed attempt; ``transient`` ones (timeouts, 5xx, ...) may open the breaker."""
        if not transient:
            self.consecutive = 0
            return
        self.consecutive += 1
        if self.consecutive >= self.threshold:
            self.trip(f"the endpoint failed {self.consecutive} times in a row (timeouts, dropped connections "
                      f"or server errors; last: {error}); stopped asking, run again to ask for the rest")

    def trip(self, reason: str) -> None:
        """Open now (the first reason is kept)."""
        if self._reason is None:
            self._reason = reason
            log.warning("circuit breaker open: %s", reason)

    def __repr__(self) -> str:
        state = "open" if self.is_open else f"closed, {self.consecutive}/{self.threshold}"
        return f"CircuitBreaker({state})"


# --------------------------------------------------------------------------- outcomes
class BadResponse(Exception):
    """An answer the caller cannot use although the status was a success (not JSON, wrong shape)."""


@dataclass(frozen=True)
class CallOutcome(Generic[_T]):
    """What a call came to: a value, or why there is none.

    Attributes:
        value: The result, or ``None`` when the call failed.
        error: Why it failed (free of keys, at most ``HTTP.max_error_chars``), or ``None``.
        attempts: Requests sent (0 when nothing was sent).
        latency_s: Wall time from the first attempt to the end; ``None`` when nothing was sent.
        status: HTTP status of the last failed attempt, when there was one.
    """

    value: _T | None
    error: str | None
    attempts: int
    latency_s: float | None
    status: int | None = None

    @property
    def ok(self) -> bool:
        """True when the call succeeded."""
        return self.error is None


@dataclass(frozen=True)
class _Failure:
    text: str
    retry: bool
    fatal: bool
    transient: bool
    status: int | None = None
    headers: Mapping[str, str] | None = None


def _is_a(exc: BaseException, *names: str) -> bool:
    """Duck-typed check for the error classes every Stainless-made SDK (openai, fireworks) defines."""
    return any(cls.__name__ in names for cls in type(exc).__mro__)


def _status_message(exc: BaseException) -> str:
    """The server's own error message (openai and fireworks put the parsed ``error`` object in ``body``)."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            error = error.get("message")
        if not isinstance(error, str):
            error = body.get("message") or body.get("detail")
        if isinstance(error, str) and error.strip():
            return " ".join(error.split())
    try:
        text = getattr(getattr(exc, "response", None), "text", None)
    except Exception:  # noqa: BLE001 - a streamed body that was never read
        text = None
    if isinstance(text, str) and text.strip():
        return " ".join(text.split())[: _QUOTE_CHARS * 2]
    return str(exc).strip() or type(exc).__name__


def _classify(exc: Exception, policy: RetryPolicy, limit_s: float, *, at_deadline: bool) -> _Failure:
    """What a failed attempt means (the text is not scrubbed yet).

    ``at_deadline``: the attempt's limit was what was left of the call's ``total_s``.
    """
    import httpx

    if isinstance(exc, TimeoutError | httpx.TimeoutException) or _is_a(exc, "APITimeoutError"):
        if at_deadline:
            return _Failure(f"timed out at the {policy.total_s:g} s deadline of this call", retry=False,
                            fatal=False, transient=True)
        return _Failure(f"timed out after {limit_s:g} s", retry=True, fatal=False, transient=True)
    if isinstance(exc, BadResponse):
        return _Failure(str(exc), retry=False, fatal=False, transient=False, status=200)
    status = getattr(exc, "status_code", None)
    if isinstance(exc, httpx.HTTPStatusError):  # raise_for_status() in a plain httpx call
        status = exc.response.status_code
    if isinstance(status, int) and not isinstance(status, bool):
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return _Failure(f"HTTP {status}: {_status_message(exc)}", retry=policy.retries(status),
                        fatal=status in policy.fatal_statuses, transient=status == 408 or status >= 500,
                        status=status, headers=headers)
    if isinstance(exc, httpx.TransportError | OSError) or _is_a(exc, "APIConnectionError"):
        cause = exc.__cause__ or exc.__context__
        detail = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
        return _Failure(f"connection failed: {detail.strip()}", retry=True, fatal=False, transient=True)
    return _Failure(f"{type(exc).__name__}: {exc}", retry=False, fatal=False, transient=False)


async def send_with_retries(
    attempt: Callable[[], Awaitable[_T]],
    *,
    timeout_s: float,
    policy: RetryPolicy | None = None,
    secrets: Iterable[str | Secret | None] = (),
    breaker: CircuitBreaker | None = None,
    limiter: AbstractAsyncContextManager[Any] | None = None,
    label: str = "request",
) -> CallOutcome[_T]:
    """Run ``attempt`` under ``policy`` with a hard wall-clock deadline per attempt; never raises for a failure.

    Cancelling the caller still cancels the call (the connection is closed).

    Args:
        attempt: Sends one request and returns its result; it raises the client's own errors
            (openai, httpx, fireworks: status errors, timeouts, connection errors) or
            :class:`BadResponse` for an unusable success.
        timeout_s: Hard wall-clock limit of one attempt, response body included.
        policy: Retry rules; ``None`` for ``RetryPolicy()`` (the defaults in :data:`svgkit.config.HTTP`).
        secrets: Keys scrubbed from every error text and log line (see :func:`scrub_secrets`).
        breaker: Shared by a batch: nothing is sent while it is open, and failures feed it.
        limiter: Held during each attempt only (an ``asyncio.Semaphore``, say), not during waits.
            The deadlines start when the first attempt gets it.
        label: Names the call in log lines.

    Returns:
        The outcome; ``error`` ends with why retrying stopped when it did.
    """
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be more than 0, not {timeout_s}")
    policy = policy or RetryPolicy()
    keys = tuple(secrets)
    attempts = 0
    started: float | None = None
    last: _Failure | None = None

    def finish(error: str | None, value: Any = None) -> CallOutcome[_T]:
        latency = None if started is None else round(time.monotonic() - started, 3)
        text = None if error is None else _clip(scrub_secrets(error, *keys))
        return CallOutcome(value, text, attempts, latency, None if last is None else last.status)

    while True:
        if breaker is not None and breaker.is_open:
            if last is None:
                return finish(f"not sent: {breaker.reason}")
            return finish(f"{last.text}; not retried: {breaker.reason}")
        async with limiter or contextlib.nullcontext():
            if started is None:
                started = time.monotonic()
            limit = min(timeout_s, policy.total_s - (time.monotonic() - started))
            if limit <= 0:  # waiting for the limiter took what was left of the deadline
                return finish(f"{last.text if last else 'not sent'}; the {policy.total_s:g} s deadline "
                              "of this call is spent")
            attempts += 1
            try:
                async with asyncio.timeout(limit):
                    value = await attempt()
            except Exception as exc:  # noqa: BLE001 - every failure becomes an outcome
                failure = _classify(exc, policy, limit, at_deadline=limit < timeout_s)
            else:
                if breaker is not None:
                    breaker.record_success()
                return finish(None, value)
        last = failure
        if breaker is not None:
            breaker.record_failure(scrub_secrets(failure.text, *keys), transient=failure.transient)
            if failure.fatal:
                breaker.trip(f"an earlier request failed with {_clip(scrub_secrets(failure.text, *keys), 300)}")
        tally = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
        if not failure.retry:
            return finish(failure.text + (tally if failure.transient else ""))
        if attempts > policy.max_retries:
            return finish(failure.text + tally)
        wait = policy.wait_s(attempts, failure.headers)
        if time.monotonic() - started + wait >= policy.total_s:
            return finish(f"{failure.text} (gave up after {attempts} attempt(s): the {policy.total_s:g} s "
                          "deadline of this call leaves no time for another)")
        log.info("%s: %s; retry %d/%d in %.2f s", label, _clip(scrub_secrets(failure.text, *keys)), attempts,
                 policy.max_retries, wait)
        await asyncio.sleep(wait)


# --------------------------------------------------------------------------- chat completions
@dataclass(frozen=True)
class ChatReply:
    """The parts of a chat completion svgkit uses, checked for type.

    Attributes:
        content: The assistant's text; ``None`` when the server sent null (a refusal, say).
        finish_reason: ``"stop"``, ``"length"``, ... as reported.
        refusal: A refusal message, if the server sent one.
        model: The model the server says answered.
        prompt_tokens: Input tokens billed, when reported.
        completion_tokens: Output tokens billed, when reported.
        total_tokens: Both, when reported.
    """

    content: str | None
    finish_reason: str | None = None
    refusal: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _shape(problem: str) -> BadResponse:
    return BadResponse(f"HTTP 200 with JSON of the wrong shape: {problem}")


def parse_chat_completion(body: bytes, content_type: str | None = None) -> ChatReply:
    """Read a chat-completions response body, refusing anything that is not one.

    Raises:
        BadResponse: The body is not JSON, carries an ``error``, or lacks a ``choices`` list
            whose first entry has a ``message`` object with string (or null) ``content``.
    """
    try:
        data = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", errors="replace")
        quoted = " ".join(text.split())[:_QUOTE_CHARS]
        raise BadResponse(f"HTTP 200 with a body that is not JSON ({content_type or 'no content-type'}): "
                          f"{quoted!r}") from None
    if not isinstance(data, dict):
        raise _shape(f"the body is a JSON {type(data).__name__}, not an object")
    if "error" in data and "choices" not in data:
        error = data["error"]
        message = error.get("message") if isinstance(error, dict) else error
        raise BadResponse(f"HTTP 200 carrying an error: {str(message)[:_QUOTE_CHARS * 2]}")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise _shape(f"'choices' is not a non-empty list (got {str(choices)[:40]!r})")
    choice = choices[0]
    if not isinstance(choice, dict):
        raise _shape("choices[0] is not an object")
    message = choice.get("message")
    if not isinstance(message, dict):
        raise _shape("choices[0] has no 'message' object")
    content = message.get("content")
    if content is not None and not isinstance(content, str):
        raise _shape(f"the message content is a JSON {type(content).__name__}, not a string")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    return ChatReply(
        content=content,
        finish_reason=_str_or_none(choice.get("finish_reason")),
        refusal=_str_or_none(message.get("refusal")),
        model=_str_or_none(data.get("model")),
        prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
        completion_tokens=_int_or_none(usage.get("completion_tokens")),
        total_tokens=_int_or_none(usage.get("total_tokens")),
    )


@functools.lru_cache(maxsize=1)
def _ssl_context() -> Any:
    """httpx's default TLS context (certifi, ``SSL_CERT_FILE``), built once: each build takes ~0.15 s."""
    import httpx

    return httpx.create_ssl_context()


class ChatClient:
    """An OpenAI-compatible chat-completions client with svgkit's retries, deadlines and scrubbing.

    It uses the ``openai`` client (its own retries off) for the HTTP exchange and
    :func:`send_with_retries` around it. Use it inside one event loop, as ``async with``
    (or call :meth:`aclose`).

    Args:
        base_url: Endpoint, ending in ``/v1``.
        api_key: Its key (str or :class:`~svgkit.config.Secret`); ``None`` sends the placeholder
            ``EMPTY``, never a key from the environment.
        timeout_s: Hard wall-clock limit of one request, body included.
        policy: Retry rules; ``None`` for ``RetryPolicy()``.
        breaker: Shared by a batch (see :class:`CircuitBreaker`); ``None`` for none.
        secrets: More strings to scrub from errors besides the key.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | Secret | None,
        timeout_s: float,
        policy: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        secrets: Iterable[str | Secret | None] = (),
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be more than 0, not {timeout_s}")
        key = api_key.get() if isinstance(api_key, Secret) else api_key
        self.base_url = base_url.rstrip("/")
        self.timeout_s = float(timeout_s)
        self.policy = policy or RetryPolicy()
        self.breaker = breaker
        self._key = key or _PLACEHOLDER_KEY
        self._secrets = tuple(s for s in (key, *secrets) if s and s != _PLACEHOLDER_KEY)
        self._client: Any = None

    def __repr__(self) -> str:
        key = "set" if self._secrets else "none"
        return f"ChatClient(base_url={self.base_url!r}, timeout_s={self.timeout_s:g}, key={key})"

    def _openai(self) -> Any:
        if self._client is None:
            import openai

            http = openai.DefaultAsyncHttpxClient(verify=_ssl_context())
            self._client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self._key, max_retries=0,
                                              timeout=self.timeout_s, http_client=http)
        return self._client

    async def complete(
        self,
        body: Mapping[str, Any],
        *,
        limiter: AbstractAsyncContextManager[Any] | None = None,
        label: str = "chat completion",
    ) -> CallOutcome[ChatReply]:
        """Send one chat-completions request body (as JSON, unchanged) with retries.

        Args:
            body: The request body: ``model``, ``messages`` and any other fields. No streaming.
            limiter: Held during each attempt (see :func:`send_with_retries`).
            label: Names the call in log lines.

        Returns:
            The outcome; its value is the checked :class:`ChatReply`.
        """
        if body.get("stream"):
            raise ValueError("ChatClient.complete does not stream; leave 'stream' out of the body")
        if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list | tuple):
            raise ValueError("the body needs a string 'model' and a list of 'messages'")
        extra = {k: v for k, v in body.items() if k not in ("model", "messages")}
        # Resolved before the clock starts: building the client and openai's first ``.chat`` (a lazy
        # import of its resources, seconds on a busy machine) block the loop and are no request time.
        create = self._openai().chat.completions.with_raw_response.create

        async def attempt() -> ChatReply:
            raw = await create(
                model=body["model"], messages=list(body["messages"]), extra_body=extra or None)
            return parse_chat_completion(raw.content, raw.headers.get("content-type"))

        return await send_with_retries(attempt, timeout_s=self.timeout_s, policy=self.policy,
                                       secrets=self._secrets, breaker=self.breaker, limiter=limiter, label=label)

    async def aclose(self) -> None:
        """Close the connections."""
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()

    async def __aenter__(self) -> "ChatClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
