"""Sample answers from a chat model for notebooks, resumably, and estimate what that costs.

:func:`generate` sends each row's messages to any OpenAI-compatible chat-completions endpoint:
Fireworks by default, or a base URL you choose (a local Ollama or vLLM server). It keeps at most
``concurrency`` requests in flight and shows a progress bar. The requests go through
:mod:`svgkit.http_client`: retries with backoff, a hard wall-clock deadline per request and per
sample, and a circuit breaker that stops asking a dead endpoint.

Every answer is appended to a JSONL file the moment it arrives, one line per
``(row_id, sample_index)``. Running the same call again reads that file first and only asks
for what is missing or failed, so an interrupted run never pays twice for the same sample.

Offline (see :mod:`svgkit.config`) nothing is sent: :func:`generate` returns the bundled
example responses for the rows' prompts, labelled ``source="bundled-example"``. They are
hand-written for the tutorial, not model output.

:func:`average_prompt_tokens` feeds :func:`svgkit.pricing.estimate_cost`, the price of a live
run before anything is spent.

Example (in a notebook cell)::

    from svgkit.generate import generate

    gens = generate(rows, n=4, out_path=output_dir() / "generations.jsonl")
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from svgkit._aio import run_sync
from svgkit.config import (
    DATASET,
    EVALUATION,
    HTTP,
    MODELS,
    Mode,
    Secret,
    Settings,
    get_settings,
)
from svgkit.http_client import ChatClient, CircuitBreaker, RetryPolicy

__all__ = [
    "BUNDLED_EXAMPLE",
    "Generation",
    "Source",
    "agenerate",
    "average_prompt_tokens",
    "default_examples_path",
    "generate",
    "generation_mode",
    "load_generations",
    "offline_generations",
]

log = logging.getLogger(__name__)

#: Where a generation's answer came from: the model, or a bundled example response.
Source = Literal["live", "bundled-example"]

#: ``source`` (and ``model``) of records that come from the bundled examples, not from a model.
BUNDLED_EXAMPLE: Literal["bundled-example"] = "bundled-example"



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
    :func:`svgkit.pricing.estimate_cost`.

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
        # Ollama, vLLM, ...: live without a key (ChatClient sends a placeholder) unless one was given.
        return "live", url, key
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

    Args:
        base_url: As for :func:`generate`.
        api_key: As for :func:`generate`.
        settings: Mode and keys; ``None`` reads them from the environment
            (:func:`~svgkit.config.get_settings`).

    Raises:
        MissingKeyError: ``SVGKIT_MODE=live`` is set but Fireworks needs a key that is missing.
    """
    mode, _, _ = _resolve(base_url=base_url, api_key=api_key,
                          settings=get_settings() if settings is None else settings)
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
@dataclass(frozen=True)
class _Request:
    """Per-call options shared by every request of a batch (never holds the key)."""

    model: str
    temperature: float
    max_tokens: int | None
    extra_body: Mapping[str, Any] | None

    def body(self, row: _Row) -> dict[str, Any]:
        """The chat-completions body for one sample of ``row`` (one request per sample, no ``n``)."""
        body: dict[str, Any] = {"model": self.model, "messages": list(row.messages), "temperature": self.temperature}
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.extra_body:
            body.update({k: v for k, v in self.extra_body.items() if k not in ("model", "messages", "stream")})
        return body


async def _sample(client: ChatClient, row: _Row, index: int, request: _Request) -> Generation:
    """One sample through the HTTP layer; never raises except on cancellation."""
    outcome = await client.complete(request.body(row), label=f"{row.row_id} #{index}")
    reply = outcome.value
    if reply is None:
        return Generation(row.row_id, index, request.model, None, error=outcome.error, attempts=outcome.attempts,
                          latency_s=outcome.latency_s)
    return Generation(
        row_id=row.row_id,
        sample_index=index,
        model=request.model,
        response=reply.content,
        finish_reason=reply.finish_reason,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        total_tokens=reply.total_tokens,
        source="live",
        attempts=outcome.attempts,
        latency_s=outcome.latency_s,
    )


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
    max_tokens: int | None = EVALUATION.max_tokens,
    request_timeout_s: float = EVALUATION.request_timeout_s,
    retry: RetryPolicy | None = None,
    breaker_threshold: int = HTTP.breaker_threshold,
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
    if not request_timeout_s > 0:
        raise ValueError(f"request_timeout_s must be more than 0, not {request_timeout_s}")
    if breaker_threshold < 1:
        raise ValueError(f"breaker_threshold must be at least 1, not {breaker_threshold}")
    if not model:
        raise ValueError("model must be a model id")
    normalised = _normalise_rows(rows)
    mode, url, secret = _resolve(base_url=base_url, api_key=api_key,
                                 settings=get_settings() if settings is None else settings)

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
    breaker = CircuitBreaker(breaker_threshold)
    if todo:
        client = ChatClient(base_url=url, api_key=secret, timeout_s=request_timeout_s, policy=retry or RetryPolicy(),
                            breaker=breaker)
        request = _Request(model=model, temperature=temperature, max_tokens=max_tokens, extra_body=extra_body)
        await _run_live(todo, done, path, client=client, request=request, concurrency=concurrency,
                        progress=progress, total=len(wanted))
    if path is not None and stored_lines + len(todo) > len(done):
        _compact(path, done)  # failed lines that were retried are superseded
    results = [done[(row.row_id, i)] for row, i in wanted]
    failed = sum(not r.ok for r in results)
    log.info(
        "%d sample(s): %d sent, %d reused from %s, %d failed",
        len(results), len(todo), len(wanted) - len(todo), path, failed,
    )
    if breaker.is_open:
        not_sent = sum(r.attempts == 0 and not r.ok for r in results)
        log.warning("generation stopped early: %s; %d sample(s) not sent, recorded as failed; "
                    "call generate() again with the same out_path to ask for them", breaker.reason, not_sent)
    return results


def _as_dict(row: _Row) -> dict[str, Any]:
    info = {"prompt_id": row.prompt_id, "example_id": row.example_id}
    return {"messages": list(row.messages), "input_metadata": {"row_id": row.row_id, "dataset_info": info}}


async def _run_live(
    todo: Sequence[tuple[_Row, int]],
    done: dict[tuple[str, int], Generation],
    path: Path | None,
    *,
    client: ChatClient,
    request: _Request,
    concurrency: int,
    progress: bool,
    total: int,
) -> None:
    from tqdm.auto import tqdm

    semaphore = asyncio.Semaphore(concurrency)
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

    async def one(row: _Row, index: int) -> None:
        nonlocal failures
        async with semaphore:
            record = await _sample(client, row, index, request)
        done[record.key] = record
        if handle is not None:
            handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
            handle.flush()
        failures += not record.ok
        bar.update(1)
        if failures:
            postfix = {"failed": failures, **({"stopped": "breaker"} if client.breaker and client.breaker.is_open
                                              else {})}
            bar.set_postfix(postfix, refresh=False)

    try:
        async with asyncio.TaskGroup() as group:
            for row, index in todo:
                group.create_task(one(row, index))
    finally:
        bar.close()
        if handle is not None:
            handle.close()
        await client.aclose()


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
    max_tokens: int | None = EVALUATION.max_tokens,
    request_timeout_s: float = EVALUATION.request_timeout_s,
    retry: RetryPolicy | None = None,
    breaker_threshold: int = HTTP.breaker_threshold,
    extra_body: Mapping[str, Any] | None = None,
    examples: Iterable[Any] | None = None,
    settings: Settings | None = None,
    progress: bool = True,
) -> list[Generation]:
    """Sample ``n`` answers per row from a chat model, resumably; offline, return bundled examples.

    Works in scripts and in Jupyter cells alike: inside a running event loop the work runs on
    its own loop in a worker thread (or ``await agenerate(...)`` directly).

    Live, each sample is its own request (no ``n`` parameter, which local servers such as
    Ollama ignore), so every sample can be stored, resumed and retried on its own. Requests go
    through :class:`svgkit.http_client.ChatClient`:

    * 408, 409, 429, 5xx, timeouts and dropped connections are retried by ``retry`` (backoff
      with jitter, ``Retry-After`` honoured up to a cap);
    * every request has a hard wall-clock limit, ``request_timeout_s`` (a server that trickles
      its answer cannot stretch it), and every sample ``retry.total_s``, retries included;
    * after ``breaker_threshold`` consecutive timeouts, dropped connections or 5xx, or at once
      after a 401, 403 or 404, nothing more is sent: the samples not sent yet become failure
      records that say why, and a warning is logged;
    * a 200 that is not a chat completion (HTML, ``"choices": "nope"``, no message, content
      that is not a string) is a failure record with the reason, not an empty answer.

    Nothing is raised for a failed request, and failure records are asked again by the next call.

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
            or written, and scrubbed (with its prefixes and URL-encoded forms) from every error.
        concurrency: Most requests in flight at once.
        max_tokens: Output token limit per answer; ``None`` sends none.
        request_timeout_s: Hard wall-clock limit of one request, response body included.
        retry: Retry rules and the per-sample deadline (``total_s``); ``None`` for
            ``RetryPolicy()``, whose defaults are in :data:`svgkit.config.HTTP`.
        breaker_threshold: Consecutive timeouts, dropped connections or 5xx after which the
            batch stops asking.
        extra_body: Extra JSON fields for the request body (e.g. ``{"reasoning_effort": "low"}``).
        examples: Offline only: the bundled examples (e.g. ``svgkit.dataset.load_examples()``);
            default reads ``svgkit/data/examples.jsonl``.
        settings: Mode and keys; ``None`` reads them from the environment
            (:func:`~svgkit.config.get_settings`).
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
        api_key=api_key, concurrency=concurrency, max_tokens=max_tokens,
        request_timeout_s=request_timeout_s, retry=retry, breaker_threshold=breaker_threshold,
        extra_body=extra_body, examples=examples, settings=settings, progress=progress,
    )
    rows = list(rows)  # a generator must not be consumed in one thread and read in another
    # Interrupting the caller (Jupyter's stop button) cancels the run, so no further requests
    # are sent; what already arrived stays in the JSONL file.
    return run_sync(agenerate(rows, **options))
