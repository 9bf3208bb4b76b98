"""Sample answers from a chat model for notebooks, resumably, and estimate what that costs.

:func:`generate` sends each row's messages to any OpenAI-compatible chat-completions endpoint:
Fireworks by default, or a base URL you choose (a local Ollama or vLLM server). It keeps at most
``concurrency`` requests in flight, retries rate limits, server errors and timeouts with a
bounded exponential backoff, and shows a progress bar.

Every answer is appended to a JSONL file the moment it arrives, one line per
``(row_id, sample_index)``. Running the same call again reads that file first and only asks
for what is missing or failed, so an interrupted run never pays twice for the same sample.

Offline (see :mod:`svgkit.config`) nothing is sent: :func:`generate` returns the bundled
example responses for the rows' prompts, labelled ``source="bundled-example"``. They are
hand-written for the tutorial, not model output.

:func:`estimate_cost` gives the price of a live run (generation plus judge) before anything
is spent.

Example (in a notebook cell)::

    from svgkit.generate import estimate_cost, generate

    estimate_cost(len(rows), samples=4)
    gens = generate(rows, n=4, out_path=output_dir() / "generations.jsonl")
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import logging
import os
import random
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from svgkit._aio import run_sync
from svgkit.config import (
    DATASET,
    EVALUATION,
    MODELS,
    PRICES,
    Mode,
    Secret,
    Settings,
    get_settings,
)

__all__ = [
    "BUNDLED_EXAMPLE",
    "DEFAULT_PROMPT_TOKENS",
    "DEFAULT_RETRY_BASE_DELAY_S",
    "DEFAULT_RETRY_MAX_DELAY_S",
    "CostEstimate",
    "Generation",
    "agenerate",
    "average_prompt_tokens",
    "default_examples_path",
    "estimate_cost",
    "generate",
    "generation_mode",
    "load_generations",
    "offline_generations",
]

log = logging.getLogger(__name__)

Source = Literal["live", "bundled-example"]

#: ``source`` (and ``model``) of records that come from the bundled examples, not from a model.
BUNDLED_EXAMPLE: Literal["bundled-example"] = "bundled-example"

#: Defaults from svgkit.config.EVALUATION (defined there once), under names this module exports.
DEFAULT_RETRY_BASE_DELAY_S = EVALUATION.retry_base_delay_s
DEFAULT_RETRY_MAX_DELAY_S = EVALUATION.retry_max_delay_s
#: Sent as the key to endpoints other than Fireworks when no key is given (vLLM's convention).
_PLACEHOLDER_KEY = "EMPTY"
DEFAULT_PROMPT_TOKENS = EVALUATION.est_prompt_tokens
#: Longest error text kept in a record.
_MAX_ERROR_CHARS = 500
#: HTTP statuses worth retrying (openai's own choice): timeout, conflict, rate limit, 5xx.
_RETRY_STATUSES = frozenset({408, 409, 429})
#: HTTP statuses that will fail every other request of the batch the same way.
_FATAL_STATUSES = frozenset({401, 403, 404})


# --------------------------------------------------------------------------- records
@dataclass(frozen=True)
class Generation:
    """One sampled answer (or the failure to get one) for one row.

    Attributes:
        row_id: The row's ``input_metadata.row_id``.
        sample_index: Which of the row's samples this is, from 0.
        model: Model id that answered, or ``"bundled-example"`` offline.
        response: The assistant's text; ``None`` when the request failed or the model said nothing.
        finish_reason: ``"stop"``, ``"length"``, ... as the server reported it.
        prompt_tokens: Input tokens billed, when the server reported usage.
        completion_tokens: Output tokens billed, when the server reported usage.
        total_tokens: Sum of both, when the server reported usage.
        error: Why there is no answer (already free of keys), or ``None``.
        source: ``"live"`` for model output, ``"bundled-example"`` for the bundled examples.
        example_id: The bundled example's id (offline only).
        attempts: Requests sent for this sample (1 plus retries); 0 if none was sent.
        latency_s: Wall time from the first attempt to the last answer, retries included.
    """

    row_id: str
    sample_index: int
    model: str
    response: str | None
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    error: str | None = None
    source: Source = "live"
    example_id: str | None = None
    attempts: int = 0
    latency_s: float | None = None

    @property
    def ok(self) -> bool:
        """True when there is no error (the response may still be empty)."""
        return self.error is None

    @property
    def key(self) -> tuple[str, int]:
        """``(row_id, sample_index)``: what identifies the record in the JSONL file."""
        return (self.row_id, self.sample_index)

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict (one line of the JSONL file)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Generation:
        """Build a record from :meth:`to_dict` output, ignoring unknown fields.

        Raises:
            ValueError: ``row_id``, ``sample_index`` or ``model`` is missing or of the wrong type.
        """
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if not isinstance(values.get("row_id"), str) or not isinstance(values.get("model"), str):
            raise ValueError("a generation record needs string 'row_id' and 'model' fields")
        index = values.get("sample_index")
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise ValueError("a generation record needs a non-negative integer 'sample_index'")
        values.setdefault("response", None)
        if values.get("source") not in ("live", BUNDLED_EXAMPLE):
            values["source"] = "live"
        return cls(**values)


@dataclass(frozen=True)
class _Row:
    """A row reduced to what generation needs."""

    row_id: str
    messages: tuple[dict[str, Any], ...]
    prompt_id: str | None
    example_id: str | None = None


# --------------------------------------------------------------------------- rows
def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _plain(value: Any) -> Any:
    """Pydantic models (Eval Protocol messages, content parts) to plain JSON values."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(exclude_none=True)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _chat_message(message: Any, where: str) -> dict[str, Any]:
    plain = _plain(message)
    if not isinstance(plain, Mapping) or not isinstance(plain.get("role"), str):
        raise ValueError(f"{where}: every message needs a string 'role'")
    out: dict[str, Any] = {"role": plain["role"], "content": plain.get("content")}
    if plain.get("name"):
        out["name"] = plain["name"]
    return out


def _normalise_rows(rows: Iterable[Any]) -> list[_Row]:
    """Read ids, prompt ids and chat messages from Eval Protocol rows or their dict form.

    Trailing assistant messages are dropped: generation answers the conversation up to the
    last non-assistant turn (so rows that already carry an answer can be re-sampled).

    Raises:
        ValueError: A row has no messages, no user turn, or two rows share a row id.
    """
    out: list[_Row] = []
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        where = f"row {index}"
        raw_messages = _get(row, "messages")
        if not raw_messages:
            raise ValueError(f"{where} has no 'messages'")
        messages = [_chat_message(m, where) for m in raw_messages]
        while messages and messages[-1]["role"] == "assistant":
            messages.pop()
        if not messages:
            raise ValueError(f"{where} has only assistant messages; there is nothing to answer")
        meta = _get(row, "input_metadata") or {}
        row_id = _get(meta, "row_id")
        if row_id is None:
            digest = hashlib.sha256(json.dumps(messages, sort_keys=True, default=str).encode()).hexdigest()
            row_id = f"row-{digest[:16]}"
        row_id = str(row_id)
        if row_id in seen:
            raise ValueError(
                f"rows {seen[row_id]} and {index} share row_id {row_id!r}; "
                "row ids must be unique so results can be resumed"
            )
        seen[row_id] = index
        info = _get(meta, "dataset_info") or {}
        if not isinstance(info, Mapping):
            info = {}
        prompt_id, example_id = info.get("prompt_id"), info.get("example_id")
        out.append(
            _Row(
                row_id,
                tuple(messages),
                None if prompt_id is None else str(prompt_id),
                None if example_id is None else str(example_id),
            )
        )
    return out


def average_prompt_tokens(rows: Iterable[Any]) -> float:
    """Rough input tokens per row, from the text of its messages (no tokenizer needed).

    Uses :attr:`svgkit.config.DatasetConfig.chars_per_token`. Feed the result to
    :func:`estimate_cost`.

    Args:
        rows: Eval Protocol rows or their dict form.

    Returns:
        The mean over rows; 0.0 for no rows.
    """
    normalised = _normalise_rows(rows)
    if not normalised:
        return 0.0
    total_chars = 0
    for row in normalised:
        for message in row.messages:
            content = message["content"]
            if isinstance(content, str):
                total_chars += len(content)
            elif isinstance(content, list):
                total_chars += sum(len(str(p.get("text", ""))) for p in content if isinstance(p, Mapping))
    # a few tokens of chat framing per message
    framing = sum(4 * len(row.messages) for row in normalised)
    return (total_chars / DATASET.chars_per_token + framing) / len(normalised)


# --------------------------------------------------------------------------- JSONL store
def load_generations(path: str | os.PathLike[str]) -> list[Generation]:
    """Read a generations JSONL file written by :func:`generate`.

    When a sample appears more than once (a failure later retried), the last line wins.
    A partial last line (the process died mid-write) is ignored.

    Args:
        path: The file; a missing file gives an empty list.

    Raises:
        ValueError: A line other than the last is not a generation record.
    """
    records, _ = _read_store(Path(path))
    return list(records.values())


def _read_store(path: Path) -> tuple[dict[tuple[str, int], Generation], int]:
    """Records by key (last line wins) and the number of lines read."""
    records: dict[tuple[str, int], Generation] = {}
    if not path.exists():
        return records, 0
    lines = path.read_bytes().split(b"\n")
    complete = lines[:-1]  # the last element is after the final newline: empty or a partial line
    count = 0
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            record = Generation.from_dict(json.loads(line))
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{path}, line {number}, is not a generation record ({exc}); "
                "pass another out_path or remove the file"
            ) from None
        records[record.key] = record
        count += 1
    tail = lines[-1].strip()
    if tail:
        try:  # a last line that lacks only its newline is still a whole record
            record = Generation.from_dict(json.loads(tail))
        except (ValueError, TypeError):
            log.warning("%s: ignoring a partial last line (an interrupted write)", path)
        else:
            records[record.key] = record
            count += 1
    return records, count


def _repair_tail(path: Path) -> None:
    """Make the file end with a newline so appended lines start clean.

    A partial last line that is not valid JSON is cut off; a whole record that only lacks its
    newline gets one.
    """
    if not path.exists() or path.stat().st_size == 0:
        return
    data = path.read_bytes()
    if data.endswith(b"\n"):
        return
    cut = data.rfind(b"\n") + 1
    try:
        Generation.from_dict(json.loads(data[cut:]))
    except (ValueError, TypeError):
        with path.open("r+b") as handle:
            handle.truncate(cut)
    else:
        with path.open("ab") as handle:
            handle.write(b"\n")


def _compact(path: Path, records: Mapping[tuple[str, int], Generation]) -> None:
    """Rewrite the file with one line per sample (atomic replace)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        for record in records.values():
            handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- endpoint and mode
def _is_fireworks(base_url: str) -> bool:
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "fireworks.ai" or host.endswith(".fireworks.ai")


def _key_value(api_key: str | Secret | None) -> str | None:
    if isinstance(api_key, Secret):
        return api_key.get()
    return api_key or None


def _resolve(
    *, base_url: str | None, api_key: str | Secret | None, settings: Settings
) -> tuple[Mode, str, str | None]:
    """Mode, base URL and key for a generation call.

    The Fireworks key from the settings is only ever sent to a Fireworks host.
    """
    url = (base_url or settings.generation_base_url).rstrip("/")
    key = _key_value(api_key)
    if settings.forced_mode == "offline" or (not settings.spend_allowed and not key):
        return "offline", url, None  # forced, or the notebook has not opted in to live calls
    if not _is_fireworks(url):
        # Ollama, vLLM, ...: live without a key unless one was given for that server.
        return "live", url, key or _PLACEHOLDER_KEY
    if key:
        return "live", url, key
    mode = settings.mode("generate")  # raises MissingKeyError if SVGKIT_MODE=live and no key
    return mode, url, settings.fireworks_api_key.get() if mode == "live" else None


def generation_mode(
    *,
    base_url: str | None = None,
    api_key: str | Secret | None = None,
    settings: Settings | None = None,
) -> Mode:
    """Whether :func:`generate` with these arguments would call a model or use bundled examples.

    ``SVGKIT_MODE=offline`` always wins, and so do settings without the spending opt-in
    (:func:`svgkit.config.with_spending`) unless a key is passed explicitly. Otherwise a base
    URL that is not Fireworks (a local server) is live without a key, and Fireworks is live
    when a key is given or set.

    Raises:
        MissingKeyError: ``SVGKIT_MODE=live`` is set but Fireworks needs a key that is missing.
    """
    mode, _, _ = _resolve(base_url=base_url, api_key=api_key, settings=settings or get_settings())
    return mode


# --------------------------------------------------------------------------- offline
def default_examples_path() -> Path:
    """Where the bundled example responses live (``svgkit/data/examples.jsonl``)."""
    return Path(__file__).resolve().parent / "data" / "examples.jsonl"


def _read_examples(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise FileNotFoundError(
            f"offline generation needs the bundled example responses, but {path} does not exist; "
            "pass examples=... (e.g. svgkit.dataset.load_examples()) or set FIREWORKS_API_KEY to run live"
        )
    examples = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    examples.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {number}: not JSON ({exc.msg})") from None
    return examples


def offline_generations(
    examples: Iterable[Any],
    rows: Iterable[Any],
) -> list[Generation]:
    """The bundled example responses for the rows' prompts, labelled as such.

    A row matches the examples whose ``prompt_id`` equals the row's
    ``input_metadata.dataset_info["prompt_id"]``, or else its ``row_id``; a row that names one
    example (``dataset_info["example_id"]``, as rows built from examples do) matches only that
    example. Every matching example becomes one record (``sample_index`` 0, 1, ... in the
    examples' order), with ``source="bundled-example"``, ``model="bundled-example"`` and its
    ``example_id``. Rows without an example are left out and logged as a warning.

    Args:
        examples: Example records (dicts or objects) with at least ``prompt_id`` and
            ``response``; ``example_id`` is carried along when present.
        rows: Eval Protocol rows or their dict form.

    Returns:
        Records in row order.
    """
    by_prompt: dict[str, list[Any]] = {}
    by_id: dict[str, Any] = {}
    for example in examples:
        prompt_id, example_id = _get(example, "prompt_id"), _get(example, "example_id")
        if prompt_id is not None:
            by_prompt.setdefault(str(prompt_id), []).append(example)
        if example_id is not None:
            by_id.setdefault(str(example_id), example)
    out: list[Generation] = []
    missing: list[str] = []
    for row in _normalise_rows(rows):
        if row.example_id is not None and row.example_id in by_id:
            matches = [by_id[row.example_id]]
        else:
            matches = by_prompt.get(row.prompt_id or "") or by_prompt.get(row.row_id) or []
        if not matches:
            missing.append(row.row_id)
        for index, example in enumerate(matches):
            example_id = _get(example, "example_id")
            response = _get(example, "response")
            out.append(
                Generation(
                    row_id=row.row_id,
                    sample_index=index,
                    model=BUNDLED_EXAMPLE,
                    response=None if response is None else str(response),
                    finish_reason="stop",
                    source=BUNDLED_EXAMPLE,
                    example_id=None if example_id is None else str(example_id),
                )
            )
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        log.warning("no bundled example for %d row(s), left out: %s", len(missing), shown)
    return out


# --------------------------------------------------------------------------- live
def _redact(text: str, secret: str | None) -> str:
    if secret and secret != _PLACEHOLDER_KEY:
        text = text.replace(secret, "***")
    return text


def _describe(exc: BaseException, secret: str | None) -> str:
    status = getattr(exc, "status_code", None)
    head = f"HTTP {status}" if status else type(exc).__name__
    message = str(exc).strip() or type(exc).__name__
    text = _redact(f"{head}: {message}", secret)
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def _classify(exc: BaseException) -> tuple[bool, bool]:
    """(retry it, fail the rest of the batch too)."""
    import openai

    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True, False
    if isinstance(exc, asyncio.TimeoutError):
        return True, False
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return (status in _RETRY_STATUSES or status >= 500), status in _FATAL_STATUSES
    return False, False


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is not None:
            try:
                return max(0.0, float(value) / scale)
            except ValueError:
                continue
    return None


def _backoff(attempt: int, exc: BaseException, base: float, cap: float) -> float:
    hinted = _retry_after(exc)
    if hinted is not None:
        return min(hinted, cap)
    delay = min(cap, base * 2 ** (attempt - 1))
    return delay * random.uniform(0.5, 1.0)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _from_completion(completion: Any, row: _Row, index: int, model: str) -> Generation:
    choices = getattr(completion, "choices", None) or []
    if not choices:
        raise ValueError("the response has no choices")
    choice = choices[0]
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None)
    usage = getattr(completion, "usage", None)
    return Generation(
        row_id=row.row_id,
        sample_index=index,
        model=model,
        response=content if isinstance(content, str) else None,
        finish_reason=getattr(choice, "finish_reason", None),
        prompt_tokens=_int_or_none(getattr(usage, "prompt_tokens", None)),
        completion_tokens=_int_or_none(getattr(usage, "completion_tokens", None)),
        total_tokens=_int_or_none(getattr(usage, "total_tokens", None)),
        source="live",
    )


@dataclass(frozen=True)
class _Request:
    """Per-call options shared by every request of a batch (never holds the key)."""

    model: str
    temperature: float
    max_tokens: int | None
    extra_body: Mapping[str, Any] | None
    max_retries: int
    retry_base_delay_s: float
    retry_max_delay_s: float


async def _sample(
    client: Any,
    row: _Row,
    index: int,
    request: _Request,
    secret: str | None,
    fatal: list[str],
) -> Generation:
    """One sample with retries; never raises except on cancellation."""
    started = time.monotonic()
    attempts = 0
    while True:
        if fatal:
            return Generation(
                row.row_id, index, request.model, None, error=f"not sent: {fatal[0]}", attempts=attempts
            )
        attempts += 1
        try:
            kwargs: dict[str, Any] = {
                "model": request.model,
                "messages": list(row.messages),
                "temperature": request.temperature,
            }
            if request.max_tokens is not None:
                kwargs["max_tokens"] = request.max_tokens
            if request.extra_body:
                kwargs["extra_body"] = dict(request.extra_body)
            completion = await client.chat.completions.create(**kwargs)
            record = _from_completion(completion, row, index, request.model)
            return _replace(record, attempts=attempts, latency_s=round(time.monotonic() - started, 3))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a record
            retry, stop_batch = _classify(exc)
            error = _describe(exc, secret)
            if stop_batch and not fatal:
                fatal.append(f"an earlier request failed with {error}")
            if not retry or attempts > request.max_retries:
                return Generation(
                    row.row_id,
                    index,
                    request.model,
                    None,
                    error=error,
                    attempts=attempts,
                    latency_s=round(time.monotonic() - started, 3),
                )
            delay = _backoff(attempts, exc, request.retry_base_delay_s, request.retry_max_delay_s)
            log.info(
                "%s #%d: %s; retry %d/%d in %.2fs",
                row.row_id, index, error, attempts, request.max_retries, delay,
            )
            await asyncio.sleep(delay)


def _replace(record: Generation, **changes: Any) -> Generation:
    return Generation(**{**record.to_dict(), **changes})


async def agenerate(
    rows: Iterable[Any],
    *,
    model: str = MODELS.eval_policy,
    n: int = EVALUATION.samples_per_prompt,
    temperature: float = EVALUATION.temperature,
    out_path: str | os.PathLike[str] | None,
    base_url: str | None = None,
    api_key: str | Secret | None = None,
    concurrency: int = EVALUATION.concurrency,
    max_retries: int = EVALUATION.max_retries,
    max_tokens: int | None = EVALUATION.max_tokens,
    request_timeout_s: float = EVALUATION.request_timeout_s,
    retry_base_delay_s: float = DEFAULT_RETRY_BASE_DELAY_S,
    retry_max_delay_s: float = DEFAULT_RETRY_MAX_DELAY_S,
    extra_body: Mapping[str, Any] | None = None,
    examples: Iterable[Any] | None = None,
    settings: Settings | None = None,
    progress: bool = True,
) -> list[Generation]:
    """Async form of :func:`generate` (same arguments); use it with ``await`` in a notebook."""
    if n < 1:
        raise ValueError(f"n must be at least 1, not {n}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    if max_retries < 0:
        raise ValueError(f"max_retries must be 0 or more, not {max_retries}")
    if not model:
        raise ValueError("model must be a model id")
    normalised = _normalise_rows(rows)
    mode, url, secret = _resolve(base_url=base_url, api_key=api_key, settings=settings or get_settings())

    if mode == "offline":
        if examples is None:
            examples = _read_examples(default_examples_path())
        log.info("offline: returning bundled example responses (not model output); nothing is sent")
        return offline_generations(examples, [_as_dict(r) for r in normalised])

    path = None if out_path is None else Path(out_path)
    done: dict[tuple[str, int], Generation] = {}
    stored_lines = 0
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        done, stored_lines = _read_store(path)
        other = sorted({r.model for r in done.values()} - {model})
        if other:
            raise ValueError(
                f"{path} already holds generations from {', '.join(other)}, not {model}; "
                "use one out_path per model (pass another out_path or remove the file)"
            )
    wanted = [(row, i) for row in normalised for i in range(n)]
    todo = [(row, i) for row, i in wanted if (row.row_id, i) not in done or not done[(row.row_id, i)].ok]
    if todo:
        await _run_live(
            todo, done, path,
            request=_Request(
                model=model,
                temperature=temperature,
                max_tokens=max_tokens,
                extra_body=extra_body,
                max_retries=max_retries,
                retry_base_delay_s=retry_base_delay_s,
                retry_max_delay_s=retry_max_delay_s,
            ),
            url=url, secret=secret, concurrency=concurrency, timeout_s=request_timeout_s,
            progress=progress, total=len(wanted),
        )
    if path is not None and stored_lines + len(todo) > len(done):
        _compact(path, done)  # failed lines that were retried are superseded
    results = [done[(row.row_id, i)] for row, i in wanted]
    failed = sum(not r.ok for r in results)
    log.info(
        "%d sample(s): %d sent, %d reused from %s, %d failed",
        len(results), len(todo), len(wanted) - len(todo), path, failed,
    )
    return results


def _as_dict(row: _Row) -> dict[str, Any]:
    info = {"prompt_id": row.prompt_id, "example_id": row.example_id}
    return {"messages": list(row.messages), "input_metadata": {"row_id": row.row_id, "dataset_info": info}}


async def _run_live(
    todo: Sequence[tuple[_Row, int]],
    done: dict[tuple[str, int], Generation],
    path: Path | None,
    *,
    request: _Request,
    url: str,
    secret: str | None,
    concurrency: int,
    timeout_s: float,
    progress: bool,
    total: int,
) -> None:
    import openai
    from tqdm.auto import tqdm

    semaphore = asyncio.Semaphore(concurrency)
    fatal: list[str] = []
    failures = 0
    if path is not None:
        _repair_tail(path)
    handle = path.open("a", encoding="utf-8") if path is not None else None
    bar = tqdm(
        total=total,
        initial=total - len(todo),
        desc=f"generate {request.model.rsplit('/', 1)[-1]}",
        unit="sample",
        disable=not progress,
    )
    client = openai.AsyncOpenAI(base_url=url, api_key=secret, max_retries=0, timeout=timeout_s)

    async def one(row: _Row, index: int) -> None:
        nonlocal failures
        async with semaphore:
            record = await _sample(client, row, index, request, secret, fatal)
        done[record.key] = record
        if handle is not None:
            handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            handle.flush()
        failures += not record.ok
        bar.update(1)
        if failures:
            bar.set_postfix(failed=failures, refresh=False)

    try:
        async with asyncio.TaskGroup() as group:
            for row, index in todo:
                group.create_task(one(row, index))
    finally:
        bar.close()
        if handle is not None:
            handle.close()
        with contextlib.suppress(Exception):
            await client.close()


def generate(
    rows: Iterable[Any],
    *,
    model: str = MODELS.eval_policy,
    n: int = EVALUATION.samples_per_prompt,
    temperature: float = EVALUATION.temperature,
    out_path: str | os.PathLike[str] | None,
    base_url: str | None = None,
    api_key: str | Secret | None = None,
    concurrency: int = EVALUATION.concurrency,
    max_retries: int = EVALUATION.max_retries,
    max_tokens: int | None = EVALUATION.max_tokens,
    request_timeout_s: float = EVALUATION.request_timeout_s,
    retry_base_delay_s: float = DEFAULT_RETRY_BASE_DELAY_S,
    retry_max_delay_s: float = DEFAULT_RETRY_MAX_DELAY_S,
    extra_body: Mapping[str, Any] | None = None,
    examples: Iterable[Any] | None = None,
    settings: Settings | None = None,
    progress: bool = True,
) -> list[Generation]:
    """Sample ``n`` answers per row from a chat model, resumably; offline, return bundled examples.

    Works in scripts and in Jupyter cells alike: inside a running event loop the work runs on
    its own loop in a worker thread (or ``await agenerate(...)`` directly).

    Live, each sample is its own request (no ``n`` parameter, which local servers such as
    Ollama ignore), so every sample can be stored, resumed and retried on its own. Requests
    failing with 408, 409, 429, 5xx, a timeout or a broken connection are retried up to
    ``max_retries`` times with exponential backoff (honouring ``Retry-After``); other failures,
    and retries that run out, become records with ``error`` set. After a 401, 403 or 404 the
    requests not yet sent are recorded as failed without being sent. Nothing is raised for a
    failed request.

    With ``out_path``, every record is appended to that JSONL file as it arrives. Calling again
    with the same file sends requests only for samples that are missing or failed; records
    already there are returned as they are. Use one file per model and settings: a file holding
    another model's answers is refused.

    Which endpoint and key (see :func:`generation_mode`):

    * ``SVGKIT_MODE=offline``: offline, nothing is sent.
    * ``base_url`` (or ``SVGKIT_GENERATION_BASE_URL``) not on fireworks.ai: that server, with
      ``api_key`` or a placeholder. The Fireworks key is never sent anywhere but Fireworks.
    * Fireworks: ``api_key`` or ``FIREWORKS_API_KEY``; offline when neither is set.

    Offline, the bundled example responses for the rows' prompts are returned instead (see
    :func:`offline_generations`), every example for a prompt regardless of ``n``; no file is
    written, so a later live run with the same ``out_path`` starts clean.

    Args:
        rows: Eval Protocol ``EvaluationRow`` objects or dicts of the same shape (``messages``
            and ``input_metadata.row_id``). Trailing assistant messages are not sent.
        model: Model id, e.g. ``accounts/fireworks/models/gpt-oss-120b`` or ``qwen3:0.6b``.
        n: Samples per row.
        temperature: Sampling temperature.
        out_path: JSONL file to append to and resume from; ``None`` keeps nothing (no resume).
        base_url: OpenAI-compatible base URL (ending in ``/v1``); default from the settings.
        api_key: Key for that endpoint (a str or :class:`~svgkit.config.Secret`); never logged
            or written.
        concurrency: Most requests in flight at once.
        max_retries: Retries per sample after the first attempt.
        max_tokens: Output token limit per answer; ``None`` sends none.
        request_timeout_s: Timeout of one request.
        retry_base_delay_s: First backoff delay, doubled per retry (with jitter).
        retry_max_delay_s: Longest single backoff delay.
        extra_body: Extra JSON fields for the request body (e.g. ``{"reasoning_effort": "low"}``).
        examples: Offline only: the bundled examples (e.g. ``svgkit.dataset.load_examples()``);
            default reads ``svgkit/data/examples.jsonl``.
        settings: Settings to use instead of :func:`~svgkit.config.get_settings`.
        progress: Show a progress bar.

    Returns:
        One record per row and sample index, in row order (offline: per matching example).

    Raises:
        ValueError: Bad arguments or rows, or ``out_path`` holds another model's answers or is
            not a generations file.
        MissingKeyError: ``SVGKIT_MODE=live`` is set but ``FIREWORKS_API_KEY`` is not.
        FileNotFoundError: Offline without ``examples`` and without the bundled examples file.
    """
    options = dict(
        model=model, n=n, temperature=temperature, out_path=out_path, base_url=base_url,
        api_key=api_key, concurrency=concurrency, max_retries=max_retries, max_tokens=max_tokens,
        request_timeout_s=request_timeout_s, retry_base_delay_s=retry_base_delay_s,
        retry_max_delay_s=retry_max_delay_s, extra_body=extra_body, examples=examples,
        settings=settings, progress=progress,
    )
    rows = list(rows)  # a generator must not be consumed in one thread and read in another
    # Interrupting the caller (Jupyter's stop button) cancels the run, so no further requests
    # are sent; what already arrived stays in the JSONL file.
    return run_sync(agenerate(rows, **options))


# --------------------------------------------------------------------------- cost
@dataclass(frozen=True)
class CostEstimate:
    """What a live run would cost, before anything is spent (rough: token counts are estimates).

    Attributes:
        n_rows: Rows to generate for.
        samples: Samples per row.
        model: Policy model.
        judge_model: Judge model, or ``None`` when judging costs nothing (rule judge).
        generation_calls: Requests to the policy.
        generation_input_tokens: Input tokens of all generation requests.
        generation_output_tokens: Output tokens of all generation requests.
        judge_calls: Requests to the judge.
        judge_input_tokens: Input tokens of all judge requests (image and prompt).
        judge_output_tokens: Output tokens of all judge requests.
        generation_usd: Price of generation in US dollars.
        judge_usd: Price of judging in US dollars.
    """

    n_rows: int
    samples: int
    model: str
    judge_model: str | None
    generation_calls: int
    generation_input_tokens: int
    generation_output_tokens: int
    judge_calls: int
    judge_input_tokens: int
    judge_output_tokens: int
    generation_usd: float
    judge_usd: float

    @property
    def total_usd(self) -> float:
        """Generation plus judge, in US dollars."""
        return self.generation_usd + self.judge_usd

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        judge = self.judge_model or "rule judge (no calls)"
        return [
            ("generation", self.model, f"{self.generation_calls:,}",
             f"{self.generation_input_tokens:,} in / {self.generation_output_tokens:,} out",
             _usd(self.generation_usd)),
            ("judge", judge, f"{self.judge_calls:,}",
             f"{self.judge_input_tokens:,} in / {self.judge_output_tokens:,} out", _usd(self.judge_usd)),
        ]

    def __str__(self) -> str:
        head = f"Estimated cost of {self.n_rows} rows x {self.samples} samples: {_usd(self.total_usd)}"
        table = [("step", "model", "calls", "tokens", "USD"), *self._rows()]
        widths = [max(len(r[i]) for r in table) for i in range(5)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table]
        return "\n".join([head, *lines, "(token counts are estimates from svgkit.config; prices from PRICES)"])

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in self._rows()
        )
        return (
            f"<p><b>Estimated cost of {self.n_rows} rows &times; {self.samples} samples: "
            f"{html.escape(_usd(self.total_usd))}</b></p>"
            "<table><tr><th>step</th><th>model</th><th>calls</th><th>tokens</th><th>USD</th></tr>"
            f"{cells}</table><p><small>Token counts are estimates from <code>svgkit.config</code>; "
            "prices from <code>PRICES</code>.</small></p>"
        )


def _usd(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def _price(model: str, prices: Mapping[str, tuple[float, float]]) -> tuple[float, float]:
    try:
        return prices[model]
    except KeyError:
        raise ValueError(
            f"no price for {model!r} in svgkit.config.PRICES; pass prices={{{model!r}: (usd_in, usd_out)}} "
            "per million tokens (use (0, 0) for a local server)"
        ) from None


def estimate_cost(
    n_rows: int,
    *,
    samples: int = EVALUATION.samples_per_prompt,
    model: str = MODELS.eval_policy,
    judge_model: str | None = MODELS.judge,
    prompt_tokens: float = DEFAULT_PROMPT_TOKENS,
    completion_tokens: float = EVALUATION.est_completion_tokens,
    judge_input_tokens: float = EVALUATION.est_judge_input_tokens,
    judge_output_tokens: float = EVALUATION.est_judge_output_tokens,
    judge_calls_per_sample: int = 1,
    prices: Mapping[str, tuple[float, float]] | None = None,
) -> CostEstimate:
    """Estimate what generating and judging ``n_rows`` x ``samples`` answers would cost.

    One generation request per sample and ``judge_calls_per_sample`` judge requests; prices are USD per million
    tokens from :data:`svgkit.config.PRICES`.

    Args:
        n_rows: Rows to generate for.
        samples: Samples per row.
        model: Policy model.
        judge_model: Judge model; ``None`` for the rule judge, which costs nothing.
        prompt_tokens: Input tokens per row (see :func:`average_prompt_tokens`).
        completion_tokens: Output tokens per answer, reasoning included.
        judge_input_tokens: Input tokens per judge call (image and prompt).
        judge_output_tokens: Output tokens per judge call.
        judge_calls_per_sample: Judge requests per answer.
        prices: ``{model: (usd_in, usd_out)}`` per million tokens, instead of ``PRICES``.

    Raises:
        ValueError: A count is negative, or a model has no price.
    """
    if n_rows < 0 or samples < 0 or judge_calls_per_sample < 0:
        raise ValueError("n_rows, samples and judge_calls_per_sample must be 0 or more")
    table = PRICES if prices is None else prices
    calls = n_rows * samples
    gen_in, gen_out = round(calls * prompt_tokens), round(calls * completion_tokens)
    price_in, price_out = _price(model, table)
    generation_usd = (gen_in * price_in + gen_out * price_out) / 1e6
    judge_calls = calls * judge_calls_per_sample if judge_model else 0
    j_in, j_out = round(judge_calls * judge_input_tokens), round(judge_calls * judge_output_tokens)
    judge_usd = 0.0
    if judge_model:
        judge_in, judge_out = _price(judge_model, table)
        judge_usd = (j_in * judge_in + j_out * judge_out) / 1e6
    return CostEstimate(
        n_rows=n_rows,
        samples=samples,
        model=model,
        judge_model=judge_model,
        generation_calls=calls,
        generation_input_tokens=gen_in,
        generation_output_tokens=gen_out,
        judge_calls=judge_calls,
        judge_input_tokens=j_in,
        judge_output_tokens=j_out,
        generation_usd=generation_usd,
        judge_usd=judge_usd,
    )
