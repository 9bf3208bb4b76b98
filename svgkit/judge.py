"""Judges: decide, requirement by requirement, whether a rendered SVG fulfils its prompt.

Two judges share one interface (:class:`Judge`) and one result type (:class:`Verdict`):

- :class:`VisionJudge` (live) sends the PNG to any OpenAI-compatible chat endpoint with image
  input (``gpt-4.1`` on OpenAI by default; base URL and model come from
  :class:`~svgkit.config.Settings`). Temperature 0, structured JSON output, strict. It retries
  429/5xx/timeouts with exponential backoff (bounded in count and time), limits concurrency,
  caches verdicts in sqlite (a rerun makes no calls) and counts tokens and dollars with the
  prices in :data:`svgkit.config.PRICES`. ``mode="upstream"`` sends the Eval Protocol
  quickstart's count-only prompt unchanged, to reproduce the upstream reward exactly.
- :class:`RuleJudge` (offline) decides what it can from the sanitised SVG and its pixels:
  colours present, background colour, text labels, coarse positions. What it cannot decide
  is *undecided*: counted as not fulfilled (strict) and listed in :attr:`Verdict.undecided`.
  :func:`rule_coverage` tells how many requirements it can decide at all.

:func:`judge` picks the judge for the current mode (``SVGKIT_MODE`` / keys) unless told.

The API key is read from :class:`~svgkit.config.Secret` only where the request is sent and
is scrubbed from every error message; nothing here logs it.
"""

import asyncio
import base64
import hashlib
import io
import json
import logging
import math
import os
import re
import sqlite3
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._aio import run_sync
from .config import JUDGE, PRICES, MissingKeyError, Settings, get_settings

__all__ = [
    "COLOUR_WORDS",
    "REQUIREMENT_KINDS",
    "CoverageReport",
    "InkStats",
    "Judge",
    "JudgeCache",
    "JudgeUsage",
    "RequirementVerdict",
    "RuleJudge",
    "Verdict",
    "VisionJudge",
    "ajudge",
    "default_judge",
    "ink_stats",
    "judge",
    "requirement_kind",
    "rule_coverage",
    "svg_texts",
    "token_cost",
    "written_requirements",
]

logger = logging.getLogger(__name__)

ImageInput = Any  # bytes (PNG) | str | os.PathLike (PNG file) | an object with .png and .svg (RenderResult)


# =========================================================================== results
@dataclass(frozen=True)
class RequirementVerdict:
    """The verdict on one requirement.

    Attributes:
        index: Position of the requirement in the list (0-based).
        text: The requirement.
        fulfilled: Whether the judge says it is fulfilled (``False`` when undecided).
        reason: A short reason.
        decided: ``False`` when the judge could not decide (rule judge only).
    """

    index: int
    text: str
    fulfilled: bool
    reason: str
    decided: bool = True


@dataclass(frozen=True)
class Verdict:
    """What a judge said about one image.

    Attributes:
        judge: Which judge (e.g. ``vision:gpt-4.1``, ``vision-upstream:gpt-4.1``, ``rule``).
        items: One :class:`RequirementVerdict` per requirement; empty in upstream count-only mode.
        fulfilled: Number of fulfilled requirements (clamped to ``0..total``).
        total: Number of requirements.
        valid: ``False`` when the judge failed (unreachable, refused, unparseable answer);
            then :attr:`error` says why and the score must not be trusted.
        error: Why the verdict is invalid.
        reasoning: The judge's overall reasoning, if any.
        undecided: Indexes the judge could not decide (counted as not fulfilled).
        input_tokens: Prompt tokens billed (0 for the rule judge and for cache hits).
        output_tokens: Completion tokens billed.
        cost_usd: Dollars spent on this verdict (``None`` when the model has no price in config).
        cached: Whether it came from the cache (no call made).
        duration_s: Wall time spent getting it.
        attempts: Calls made (retries included).
    """

    judge: str
    items: tuple[RequirementVerdict, ...]
    fulfilled: int
    total: int
    valid: bool = True
    error: str | None = None
    reasoning: str = ""
    undecided: tuple[int, ...] = ()
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    cached: bool = False
    duration_s: float = 0.0
    attempts: int = 0

    @property
    def score(self) -> float:
        """``fulfilled / total`` (0 for an invalid verdict)."""
        if not self.valid or self.total <= 0:
            return 0.0
        return max(0, min(self.fulfilled, self.total)) / self.total

    @property
    def itemised(self) -> bool:
        """Whether the verdict has one item per requirement."""
        return len(self.items) == self.total and self.total > 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (used by the cache and by notebooks)."""
        d = asdict(self)
        d["items"] = [asdict(i) for i in self.items]
        d["undecided"] = list(self.undecided)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Verdict":
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d["items"] = tuple(RequirementVerdict(**i) for i in d.get("items", ()))
        d["undecided"] = tuple(d.get("undecided", ()))
        return cls(**d)

    def with_unfulfilled(self, indexes: Iterable[int], reason: str) -> "Verdict":
        """A copy where ``indexes`` are forced to not fulfilled with ``reason`` (hack guards)."""
        idx = set(indexes)
        if not idx or not self.items:
            return self
        items = tuple(replace(i, fulfilled=False, reason=reason) if i.index in idx else i for i in self.items)
        return replace(self, items=items, fulfilled=sum(i.fulfilled for i in items))


def _invalid(name: str, requirements: Sequence[str], error: str, **kw: Any) -> Verdict:
    return Verdict(judge=name, items=(), fulfilled=0, total=len(requirements), valid=False, error=error, **kw)


@dataclass(frozen=True)
class JudgeUsage:
    """Running totals of a judge: calls, cache hits, tokens and dollars.

    Attributes:
        verdicts: Verdicts returned (cache hits included).
        calls: HTTP calls made (retries included).
        cache_hits: Verdicts served from the cache.
        failures: Invalid verdicts.
        input_tokens: Prompt tokens billed.
        output_tokens: Completion tokens billed.
        cost_usd: Dollars spent (``None`` when the model has no price in config).
    """

    verdicts: int = 0
    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0


def token_cost(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """Dollars for the given tokens of ``model`` at :data:`svgkit.config.PRICES`.

    ``None`` for a model with no price in config (unknown, not free). For the price of a
    whole run before it starts, see :func:`svgkit.generate.estimate_cost`.
    """
    price = PRICES.get(model) or PRICES.get(model.rsplit("/", 1)[-1])
    if price is None:
        return None
    return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000


# =========================================================================== cache
class JudgeCache:
    """Content-addressed verdict cache in sqlite.

    The key hashes the judge identity (kind, model, endpoint, mode), the prompt version, the
    image bytes (and SVG for judges that read it) and the requirements, so a changed prompt
    or picture never reuses an old verdict. Only valid verdicts are stored.

    Args:
        path: The sqlite file. Default: ``$SVGKIT_JUDGE_CACHE`` if set, else
            ``judge-cache.sqlite`` in the user cache directory (platformdirs).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        if path is None:
            env = os.environ.get("SVGKIT_JUDGE_CACHE")
            if env:
                path = Path(env).expanduser()
            else:
                from platformdirs import user_cache_dir

                path = Path(user_cache_dir("svgkit")) / JUDGE.cache_filename
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as con:
            con.execute("CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, judge TEXT, "
                        "verdict TEXT NOT NULL, created REAL)")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    @staticmethod
    def key(identity: str, prompt_version: str, image: bytes, requirements: Sequence[str],
            svg: str | None = None) -> str:
        """The cache key of one judgement."""
        h = hashlib.sha256()
        for part in (identity, prompt_version, hashlib.sha256(image).hexdigest(),
                     hashlib.sha256((svg or "").encode()).hexdigest(), json.dumps(list(requirements))):
            h.update(part.encode())
            h.update(b"\0")
        return h.hexdigest()

    def get(self, key: str) -> Verdict | None:
        """The cached verdict, or ``None``."""
        with self._lock, self._connect() as con:
            row = con.execute("SELECT verdict FROM verdicts WHERE key = ?", (key,)).fetchone()
        return Verdict.from_dict(json.loads(row[0])) if row else None

    def put(self, key: str, verdict: Verdict) -> None:
        """Store a valid verdict (invalid ones are ignored so they are retried next time)."""
        if not verdict.valid:
            return
        with self._lock, self._connect() as con:
            con.execute("INSERT OR REPLACE INTO verdicts VALUES (?, ?, ?, ?)",
                        (key, verdict.judge, json.dumps(verdict.to_dict()), time.time()))

    def __len__(self) -> int:
        with self._lock, self._connect() as con:
            return con.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0]

    def clear(self) -> None:
        """Delete every cached verdict."""
        with self._lock, self._connect() as con:
            con.execute("DELETE FROM verdicts")


# =========================================================================== judge base
def _coerce_image(image: ImageInput, svg: str | None) -> tuple[bytes | None, str | None]:
    if image is None:
        return None, svg
    if isinstance(image, bytes | bytearray | memoryview):
        return bytes(image), svg
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"image {str(path)[:200]!r} is not a file: pass PNG bytes, a PNG path "
                                    "or a RenderResult")
        return path.read_bytes(), svg
    png = getattr(image, "png", None)
    if hasattr(image, "png"):
        return (bytes(png) if png is not None else None), (svg if svg is not None else getattr(image, "svg", None))
    raise TypeError(f"cannot judge a {type(image).__name__}: pass PNG bytes, a PNG path or a RenderResult")


class Judge(ABC):
    """Base class of judges: caching, usage accounting and the sync/async entry points.

    Subclasses implement :meth:`_evaluate`.

    Args:
        cache: A :class:`JudgeCache`, a path for one, ``True`` for the default location, or
            ``None``/``False`` for no cache.
        prompt_version: Part of the cache key; bump it when the judging changes.
    """

    #: Short name reported in verdicts.
    name: str = "judge"
    #: Whether the judge reads the SVG as well as the image (part of the cache key).
    uses_svg: bool = False

    def __init__(self, *, cache: "JudgeCache | str | os.PathLike[str] | bool | None" = None,
                 prompt_version: str = JUDGE.prompt_version) -> None:
        if cache is True:
            cache = JudgeCache()
        elif cache is False:
            cache = None
        elif isinstance(cache, str | os.PathLike):
            cache = JudgeCache(cache)
        self.cache: JudgeCache | None = cache
        self.prompt_version = prompt_version
        self._usage_lock = threading.Lock()
        self._usage = JudgeUsage()

    @property
    def identity(self) -> str:
        """What distinguishes this judge's verdicts in the cache."""
        return self.name

    @property
    def usage(self) -> JudgeUsage:
        """Totals since creation or the last :meth:`reset_usage`."""
        with self._usage_lock:
            return self._usage

    def reset_usage(self) -> None:
        """Zero the running totals."""
        with self._usage_lock:
            self._usage = JudgeUsage()

    def _account(self, verdict: Verdict) -> None:
        with self._usage_lock:
            u = self._usage
            cost = None if (u.cost_usd is None or verdict.cost_usd is None) else u.cost_usd + verdict.cost_usd
            self._usage = JudgeUsage(
                verdicts=u.verdicts + 1,
                calls=u.calls + (0 if verdict.cached else verdict.attempts),
                cache_hits=u.cache_hits + int(verdict.cached),
                failures=u.failures + int(not verdict.valid),
                input_tokens=u.input_tokens + verdict.input_tokens,
                output_tokens=u.output_tokens + verdict.output_tokens,
                cost_usd=cost,
            )

    @abstractmethod
    async def _evaluate(self, png: bytes | None, svg: str | None, requirements: tuple[str, ...],
                        prompt: str | None) -> Verdict:
        """Judge one image (no cache, no accounting)."""

    async def ajudge(self, image: ImageInput, requirements: Sequence[str], *, svg: str | None = None,
                     prompt: str | None = None) -> Verdict:
        """Judge one image.

        Args:
            image: PNG bytes, a PNG file path, or a :class:`~svgkit.render.RenderResult`
                (whose sanitised ``svg`` is then used too).
            requirements: The requirements, in order.
            svg: The sanitised SVG drawn (read by the rule judge).
            prompt: The task prompt (used by hack checks; not sent to the vision judge).

        Raises:
            ValueError: ``requirements`` is empty.
        """
        reqs = tuple(str(r) for r in requirements)
        if not reqs:
            raise ValueError("requirements is empty: pass at least one requirement to judge")
        png, svg = _coerce_image(image, svg)
        start = time.monotonic()
        key = None
        if self.cache is not None and png is not None:
            key = JudgeCache.key(self.identity, self.prompt_version, png, reqs, svg if self.uses_svg else None)
            hit = await asyncio.to_thread(self.cache.get, key)
            if hit is not None:
                verdict = replace(hit, cached=True, input_tokens=0, output_tokens=0, cost_usd=0.0,
                                  attempts=0, duration_s=time.monotonic() - start)
                self._account(verdict)
                return verdict
        verdict = await self._evaluate(png, svg, reqs, prompt)
        verdict = replace(verdict, duration_s=time.monotonic() - start)
        if key is not None and verdict.valid:
            await asyncio.to_thread(self.cache.put, key, verdict)  # type: ignore[union-attr]
        self._account(verdict)
        return verdict

    def judge(self, image: ImageInput, requirements: Sequence[str], *, svg: str | None = None,
              prompt: str | None = None) -> Verdict:
        """Sync version of :meth:`ajudge` (works inside Jupyter's running loop too)."""
        return run_sync(self.ajudge(image, requirements, svg=svg, prompt=prompt))

    async def ajudge_many(self, jobs: Sequence[tuple[ImageInput, Sequence[str]]], *,
                          svgs: Sequence[str | None] | None = None,
                          prompts: Sequence[str | None] | None = None) -> list[Verdict]:
        """Judge many images concurrently (the judge's own concurrency limit applies), in order."""
        svgs = list(svgs) if svgs is not None else [None] * len(jobs)
        prompts = list(prompts) if prompts is not None else [None] * len(jobs)
        return list(await asyncio.gather(*(self.ajudge(img, reqs, svg=s, prompt=p)
                                           for (img, reqs), s, p in zip(jobs, svgs, prompts, strict=True))))

    def judge_many(self, jobs: Sequence[tuple[ImageInput, Sequence[str]]], *,
                   svgs: Sequence[str | None] | None = None,
                   prompts: Sequence[str | None] | None = None) -> list[Verdict]:
        """Sync version of :meth:`ajudge_many`."""
        return run_sync(self.ajudge_many(jobs, svgs=svgs, prompts=prompts))


# =========================================================================== vision judge
#: The itemised prompt (versioned by ``JUDGE.prompt_version``).
ITEMISED_PROMPT = """Examine the image. For each of the following {n} requirements, decide whether the \
image fulfils it.

Be strict: a requirement is fulfilled only if it is clearly visible in the picture. Text written \
in the image that merely states a requirement does not fulfil it; the picture must show it.

Respond ONLY with a JSON object with one entry per requirement, in the given order: \
"index" (1 to {n}), "reason" (one short sentence) and "fulfilled" (true or false); \
then "summary", one sentence on the picture overall.

Requirements:
{requirements}"""

# Compatibility mode: the Eval Protocol SVG quickstart's count-only request, reproduced field by
# field (tests/test_vision_judge.py runs upstream's own function and compares the requests).
_UPSTREAM_LINES = (
    "Examine the generated image. How many of the following {n} requirements were fulfilled?",
    "",
    "Be strict about the requirements and respond ONLY with a JSON object in this exact format:",
    '{{"reasoning": <reasoning_text>,',
    '"number_of_fulfilled_requirements": <count>}}',
    "",
    "Where <count> is a number between 0 and {n}.",
    "",
    "Requirements:",
    "{requirements}",
)
UPSTREAM_PROMPT = "\n".join(_UPSTREAM_LINES)


def _numbered(requirements: Sequence[str]) -> str:
    return "\n".join(f"{i + 1}. {r}" for i, r in enumerate(requirements))


def _itemised_schema(n: int) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "verdicts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "index": {"type": "integer"},
                        "reason": {"type": "string"},
                        "fulfilled": {"type": "boolean"},
                    },
                    "required": ["index", "reason", "fulfilled"],
                    "additionalProperties": False,
                },
            },
            "summary": {"type": "string"},
        },
        "required": ["verdicts", "summary"],
        "additionalProperties": False,
    }


def _upstream_schema() -> dict[str, Any]:
    # The JSON schema pydantic writes for upstream's ``SVGBenchResponse`` model.
    return {
        "properties": {
            "reasoning": {"title": "Reasoning", "type": "string"},
            "number_of_fulfilled_requirements": {"title": "Number Of Fulfilled Requirements", "type": "integer"},
        },
        "required": ["reasoning", "number_of_fulfilled_requirements"],
        "title": "SVGBenchResponse",
        "type": "object",
    }


class _JudgeFailure(Exception):
    """A call failed for good (after retries or without a retry)."""

    def __init__(self, message: str, attempts: int = 1) -> None:
        super().__init__(message)
        self.attempts = attempts


def _scrub(text: str, secret: str | None) -> str:
    text = str(text)
    if secret:
        text = text.replace(secret, "***")
    return text[:400]


class VisionJudge(Judge):
    """A vision LLM judge on any OpenAI-compatible chat endpoint.

    Args:
        model: Model id (default ``settings.judge_model``, i.e. ``gpt-4.1``).
        base_url: Endpoint (default ``settings.judge_base_url``).
        settings: Where the key and defaults come from (default :func:`~svgkit.config.get_settings`).
        mode: ``"itemised"`` (one verdict per requirement) or ``"upstream"`` (upstream's
            count-only prompt, to reproduce the quickstart reward exactly).
        cache: A :class:`JudgeCache`, a path, ``True`` for the default location (the
            default), or ``None``/``False`` for none.
        concurrency: Calls in flight at most (per event loop).
        max_retries: Retries after the first call on 429, 5xx, timeouts and dropped connections.
        retry_base_delay_s: First backoff delay; doubles each retry (a ``Retry-After`` header
            lengthens it).
        retry_max_total_s: No retry starts after this much time has passed.
        request_timeout_s: Timeout of one call.
        temperature: Sampling temperature (0: as deterministic as the endpoint allows).

    Raises:
        MissingKeyError: No key is set (``OPENAI_API_KEY``).
    """

    uses_svg = False

    def __init__(
        self,
        *,
        model: str | None = None,
        base_url: str | None = None,
        settings: Settings | None = None,
        mode: Literal["itemised", "upstream"] = "itemised",
        cache: "JudgeCache | str | os.PathLike[str] | bool | None" = True,
        concurrency: int = JUDGE.concurrency,
        max_retries: int = JUDGE.max_retries,
        retry_base_delay_s: float = JUDGE.retry_base_delay_s,
        retry_max_total_s: float = JUDGE.retry_max_total_s,
        request_timeout_s: float = JUDGE.request_timeout_s,
        temperature: float = JUDGE.temperature,
        prompt_version: str = JUDGE.prompt_version,
    ) -> None:
        super().__init__(cache=cache, prompt_version=prompt_version)
        settings = settings or get_settings()
        if mode not in ("itemised", "upstream"):
            raise ValueError(f"mode must be 'itemised' or 'upstream', not {mode!r}")
        if not settings.judge_api_key:
            raise MissingKeyError(
                "the vision judge needs OPENAI_API_KEY (or SVGKIT_JUDGE_API_KEY, the key of the endpoint "
                "set in SVGKIT_JUDGE_BASE_URL): put it in the environment or .env, or use RuleJudge() offline"
            )
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.model = model or settings.judge_model
        self.base_url = (base_url or settings.judge_base_url).rstrip("/")
        self.mode = mode
        self._key = settings.judge_api_key  # a Secret: repr never shows the key
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.retry_base_delay_s = retry_base_delay_s
        self.retry_max_total_s = retry_max_total_s
        self.request_timeout_s = request_timeout_s
        self.temperature = temperature
        self.name = f"vision-upstream:{self.model}" if mode == "upstream" else f"vision:{self.model}"
        self._semaphores: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return (f"VisionJudge(model={self.model!r}, base_url={self.base_url!r}, mode={self.mode!r}, "
                f"key={self._key!r})")

    @property
    def identity(self) -> str:
        """Judge kind, model, endpoint and mode."""
        return f"{self.name}@{self.base_url}"

    # ------------------------------------------------------------------ request
    def build_request(self, png: bytes, requirements: Sequence[str]) -> dict[str, Any]:
        """The chat-completions request body this judge sends (no key in it)."""
        data_url = "data:image/png;base64," + base64.b64encode(png).decode("utf-8")
        reqs = list(requirements)
        if self.mode == "upstream":
            text = UPSTREAM_PROMPT.format(n=len(reqs), requirements=_numbered(reqs))
            response_format = {"type": "json_schema",
                               "json_schema": {"name": "SVGBenchResponse", "schema": _upstream_schema()}}
        else:
            text = ITEMISED_PROMPT.format(n=len(reqs), requirements=_numbered(reqs))
            response_format = {"type": "json_schema",
                               "json_schema": {"name": "RequirementVerdicts", "strict": True,
                                               "schema": _itemised_schema(len(reqs))}}
        return {
            "model": self.model,
            "messages": [{"role": "user", "content": [
                {"type": "text", "text": text},
                {"type": "image_url", "image_url": {"url": data_url}},
            ]}],
            "temperature": self.temperature,
            "response_format": response_format,
        }

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        sem = self._semaphores.get(loop)
        if sem is None:
            sem = asyncio.Semaphore(self.concurrency)
            self._semaphores[loop] = sem
        return sem

    async def _call(self, body: dict[str, Any]) -> tuple[Any, int]:
        """Send ``body`` with retries; return (completion, attempts)."""
        import openai

        secret = self._key.get()
        start = time.monotonic()
        attempts = 0
        last = "no attempt made"
        async with openai.AsyncOpenAI(api_key=secret, base_url=self.base_url, max_retries=0,
                                      timeout=self.request_timeout_s) as client:
            for attempt in range(self.max_retries + 1):
                attempts += 1
                retry_after = 0.0
                try:
                    async with self._semaphore():
                        resp = await client.chat.completions.create(**body)
                    return resp, attempts
                except openai.APITimeoutError:
                    last = f"timed out after {self.request_timeout_s:g} s"
                except openai.APIConnectionError as exc:
                    last = f"connection failed: {_scrub(exc, secret)}"
                except openai.APIStatusError as exc:
                    status = exc.status_code
                    msg = _scrub(getattr(exc, "message", "") or str(exc), secret)
                    if status == 429 or status >= 500:
                        last = f"HTTP {status}: {msg}"
                        try:
                            retry_after = float(exc.response.headers.get("retry-after") or 0)
                        except ValueError:
                            retry_after = 0.0
                    else:
                        hint = " (check OPENAI_API_KEY and SVGKIT_JUDGE_BASE_URL)" if status in (401, 403) else ""
                        raise _JudgeFailure(f"HTTP {status}: {msg}{hint}", attempts) from None
                except openai.APIError as exc:  # e.g. a body that is not JSON
                    raise _JudgeFailure(f"unusable answer from the endpoint: {_scrub(exc, secret)}",
                                        attempts) from None
                if attempt == self.max_retries:
                    break
                delay = max(self.retry_base_delay_s * (2 ** attempt), min(retry_after, self.retry_max_total_s))
                if time.monotonic() - start + delay > self.retry_max_total_s:
                    raise _JudgeFailure(f"{last}; gave up after {attempts} attempt(s), retry budget "
                                        f"{self.retry_max_total_s:g} s spent", attempts)
                logger.warning("judge call failed (%s); retry %d/%d in %.2f s", last, attempt + 1,
                               self.max_retries, delay)
                await asyncio.sleep(delay)
        raise _JudgeFailure(f"{last}; gave up after {attempts} attempt(s)", attempts)

    # ------------------------------------------------------------------ parsing
    @staticmethod
    def _load_json(content: str) -> Any:
        text = content.strip()
        fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.S)
        if fenced:
            text = fenced.group(1)
        return json.loads(text)

    def _parse(self, content: str | None, requirements: tuple[str, ...]) -> tuple[list[RequirementVerdict], str]:
        if content is None or not content.strip():
            raise _JudgeFailure("the judge returned an empty answer")
        try:
            data = self._load_json(content)
        except ValueError:
            raise _JudgeFailure(f"the judge's answer is not JSON: {content[:120]!r}") from None
        if not isinstance(data, dict):
            raise _JudgeFailure("the judge's answer is not a JSON object")
        n = len(requirements)
        if self.mode == "upstream":
            count = data.get("number_of_fulfilled_requirements")
            # json.loads accepts NaN, Infinity and 1e999 (inf): int() of those raises, so check first
            if (isinstance(count, bool) or not isinstance(count, int | float)
                    or (isinstance(count, float) and (not math.isfinite(count) or not count.is_integer()))):
                raise _JudgeFailure("the judge's answer has no integer number_of_fulfilled_requirements "
                                    f"(got {str(count)[:40]!r})")
            reasoning = data.get("reasoning")
            return [RequirementVerdict(-1, "", False, str(int(count)))], str(reasoning or "")
        entries = data.get("verdicts")
        if not isinstance(entries, list):
            raise _JudgeFailure("the judge's answer has no 'verdicts' list")
        seen: dict[int, RequirementVerdict] = {}
        for e in entries:
            if not isinstance(e, dict):
                raise _JudgeFailure("a verdict entry is not an object")
            idx, ok = e.get("index"), e.get("fulfilled")
            if isinstance(idx, bool) or not isinstance(idx, int) or not 1 <= idx <= n:
                raise _JudgeFailure(f"verdict index {idx!r} is not between 1 and {n}")
            if not isinstance(ok, bool):
                raise _JudgeFailure(f"verdict {idx} has no true/false 'fulfilled'")
            if idx in seen:
                raise _JudgeFailure(f"requirement {idx} was judged twice")
            seen[idx] = RequirementVerdict(idx - 1, requirements[idx - 1], ok, str(e.get("reason") or "")[:300])
        missing = [i for i in range(1, n + 1) if i not in seen]
        if missing:
            raise _JudgeFailure(f"the judge skipped requirement(s) {', '.join(map(str, missing))}")
        return [seen[i] for i in range(1, n + 1)], str(data.get("summary") or "")

    # ------------------------------------------------------------------ evaluate
    async def _evaluate(self, png: bytes | None, svg: str | None, requirements: tuple[str, ...],
                        prompt: str | None) -> Verdict:
        if png is None:
            return _invalid(self.name, requirements, "no image to judge")
        body = self.build_request(png, requirements)
        try:
            resp, attempts = await self._call(body)
        except _JudgeFailure as exc:
            return _invalid(self.name, requirements, str(exc), attempts=exc.attempts)
        usage = getattr(resp, "usage", None)
        tin = int(getattr(usage, "prompt_tokens", 0) or 0)
        tout = int(getattr(usage, "completion_tokens", 0) or 0)
        money = dict(input_tokens=tin, output_tokens=tout, cost_usd=token_cost(self.model, tin, tout),
                     attempts=attempts)
        try:
            choices = getattr(resp, "choices", None)
            if not choices:
                raise _JudgeFailure("the endpoint's answer has no choices")
            choice = choices[0]
            message = choice.message
            refusal = getattr(message, "refusal", None)
            if refusal:
                raise _JudgeFailure(f"the judge refused: {str(refusal)[:200]}")
            if choice.finish_reason == "length":
                raise _JudgeFailure("the judge's answer was cut off (finish_reason=length)")
            items, reasoning = self._parse(message.content, requirements)
        except _JudgeFailure as exc:
            return _invalid(self.name, requirements, str(exc), **money)
        except Exception as exc:  # noqa: BLE001 - an answer we failed to read is still a paid call
            logger.debug("unreadable judge answer", exc_info=True)
            return _invalid(self.name, requirements,
                            f"unusable answer from the judge: {type(exc).__name__}: {_scrub(exc, self._key.get())}",
                            **money)
        if self.mode == "upstream":
            count = max(0, min(int(items[0].reason), len(requirements)))
            return Verdict(judge=self.name, items=(), fulfilled=count, total=len(requirements),
                           reasoning=reasoning, **money)
        return Verdict(judge=self.name, items=tuple(items), fulfilled=sum(i.fulfilled for i in items),
                       total=len(requirements), reasoning=reasoning, **money)


# =========================================================================== pixels
@dataclass(frozen=True)
class InkStats:
    """What is drawn on a rendered image, relative to its background.

    Attributes:
        width: Image width in pixels.
        height: Image height in pixels.
        background: The dominant (most frequent) colour, RGB.
        ink_share: Share of pixels that differ clearly from the background.
        bbox: Bounding box of those pixels as fractions ``(x0, y0, x1, y1)``; ``None`` when blank.
        bbox_share: Area of the bounding box as a share of the canvas.
        blank: Less than ``JUDGE.min_ink_share`` of the canvas is drawn.
        tiny: Something is drawn, but its bounding box covers less than ``JUDGE.tiny_drawing_share``.
    """

    width: int
    height: int
    background: tuple[int, int, int]
    ink_share: float
    bbox: tuple[float, float, float, float] | None
    bbox_share: float
    blank: bool
    tiny: bool


def _load_rgb(png: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        im.load()
        if im.mode in ("RGBA", "LA", "P"):
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            bg.alpha_composite(im)
            im = bg
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _dominant(rgb: np.ndarray) -> tuple[int, int, int]:
    q = (rgb // 8).reshape(-1, 3).astype(np.int32)
    codes = (q[:, 0] << 10) | (q[:, 1] << 5) | q[:, 2]
    code = int(np.bincount(codes).argmax())
    sel = codes == code
    mean = rgb.reshape(-1, 3)[sel].mean(axis=0)
    return int(mean[0]), int(mean[1]), int(mean[2])


def ink_stats(png: bytes, *, min_ink_share: float = JUDGE.min_ink_share,
              tiny_drawing_share: float = JUDGE.tiny_drawing_share,
              tolerance: int = JUDGE.ink_tolerance) -> InkStats:
    """Measure how much of a rendered image is drawn (blank and tiny-drawing guards).

    Args:
        png: The PNG bytes.
        min_ink_share: Below this share of differing pixels the image counts as blank.
        tiny_drawing_share: Below this bounding-box share a drawing counts as tiny.
        tolerance: Per-channel difference from the background that counts as ink.
    """
    rgb = _load_rgb(png)
    h, w = rgb.shape[:2]
    bg = _dominant(rgb)
    diff = np.abs(rgb.astype(np.int16) - np.array(bg, dtype=np.int16)).max(axis=2)
    ink = diff > tolerance
    share = float(ink.mean()) if ink.size else 0.0
    if not ink.any():
        return InkStats(w, h, bg, 0.0, None, 0.0, True, False)
    ys, xs = np.nonzero(ink)
    x0, x1, y0, y1 = xs.min() / w, (xs.max() + 1) / w, ys.min() / h, (ys.max() + 1) / h
    bshare = float((x1 - x0) * (y1 - y0))
    blank = share < min_ink_share
    return InkStats(w, h, bg, share, (float(x0), float(y0), float(x1), float(y1)), bshare, blank,
                    (not blank) and bshare < tiny_drawing_share)


# ------------------------------------------------------------------------- colour classes
#: Colour words of requirements -> the pixel colour classes that satisfy them.
COLOUR_WORDS: dict[str, tuple[str, ...]] = {
    "red": ("red",), "crimson": ("red",), "scarlet": ("red",), "maroon": ("red", "brown"),
    "burgundy": ("red", "brown", "purple"), "tomato": ("red", "orange"), "coral": ("red", "orange", "pink"),
    "orange": ("orange",), "amber": ("orange", "yellow"), "peach": ("orange", "pink"),
    "yellow": ("yellow",), "gold": ("yellow", "orange"), "golden": ("yellow", "orange"),
    "mustard": ("yellow", "orange", "brown"),
    "green": ("green",), "lime": ("green", "yellow"), "olive": ("green", "brown", "yellow"),
    "emerald": ("green",), "mint": ("green", "teal"),
    "teal": ("teal", "green", "blue"), "cyan": ("teal", "blue"), "turquoise": ("teal", "blue", "green"),
    "aqua": ("teal", "blue"),
    "blue": ("blue",), "navy": ("blue",), "azure": ("blue",), "indigo": ("blue", "purple"),
    "purple": ("purple",), "violet": ("purple",), "lavender": ("purple", "blue", "pink"),
    "lilac": ("purple", "pink"), "magenta": ("pink", "purple"),
    "pink": ("pink",), "rose": ("pink", "red"),
    "brown": ("brown",), "tan": ("brown", "orange"), "beige": ("brown", "white", "orange", "yellow"),
    "wooden": ("brown",),
    "grey": ("grey",), "gray": ("grey",), "silver": ("grey",), "charcoal": ("grey", "black"),
    "white": ("white",), "cream": ("white", "yellow"), "ivory": ("white", "yellow"),
    "black": ("black",),
}
_COLOUR_RE = re.compile(r"\b(" + "|".join(sorted(COLOUR_WORDS, key=len, reverse=True)) + r")\b", re.I)
_COLOUR_MODIFIERS = ("light", "pale", "dark", "deep", "bright", "soft", "warm", "cool", "vivid", "muted")


def _colour_classes(rgb: np.ndarray, *, pale: bool = False) -> dict[str, np.ndarray]:
    """Boolean masks of loose colour classes (overlapping near their borders); ``pale`` for light tints."""
    f = rgb.astype(np.float32) / 255.0
    r, g, b = f[..., 0], f[..., 1], f[..., 2]
    mx, mn = f.max(axis=2), f.min(axis=2)
    v = mx
    c = mx - mn
    s = np.where(mx > 0, c / np.maximum(mx, 1e-6), 0.0)
    h = np.zeros_like(mx)
    nz = c > 1e-6
    rc = np.where(nz, (mx - r) / np.maximum(c, 1e-6), 0)
    gc = np.where(nz, (mx - g) / np.maximum(c, 1e-6), 0)
    bc = np.where(nz, (mx - b) / np.maximum(c, 1e-6), 0)
    h = np.where(r == mx, bc - gc, np.where(g == mx, 2.0 + rc - bc, 4.0 + gc - rc))
    h = (h / 6.0) % 1.0 * 360.0
    if pale:
        chroma = (s >= 0.05) & (v >= 0.6)
        return {
            "red": chroma & ((h < 16) | (h >= 340)), "orange": chroma & (h >= 14) & (h < 46),
            "yellow": chroma & (h >= 40) & (h < 75), "green": chroma & (h >= 68) & (h < 170),
            "teal": chroma & (h >= 160) & (h < 200), "blue": chroma & (h >= 190) & (h < 258),
            "purple": chroma & (h >= 250) & (h < 305), "pink": chroma & ((h >= 295) | (h < 15)),
            "brown": chroma & (h < 50) & (v < 0.9), "grey": (s < 0.15) & (v >= 0.55) & (v <= 0.985),
            "white": (s < 0.12) & (v > 0.9), "black": v < 0.22,
        }
    chroma = (s >= 0.18) & (v >= 0.18)
    return {
        "red": chroma & (s >= 0.35) & ((h < 16) | (h >= 340)) & (v >= 0.3),
        "orange": chroma & (s >= 0.4) & (h >= 14) & (h < 46) & (v >= 0.55),
        "yellow": chroma & (s >= 0.3) & (h >= 40) & (h < 72) & (v >= 0.5),
        "green": chroma & (h >= 68) & (h < 170),
        "teal": chroma & (h >= 160) & (h < 200),
        "blue": chroma & (h >= 190) & (h < 258),
        "purple": chroma & (h >= 250) & (h < 305),
        "pink": ((chroma & (h >= 295) & (h < 345) & (v >= 0.45))
                 | ((s >= 0.12) & (s < 0.55) & (v >= 0.75) & ((h >= 330) | (h < 15)))),
        "brown": (s >= 0.2) & (v >= 0.1) & (v < 0.72) & ((h < 50) | (h >= 345)),
        "grey": (s < 0.15) & (v >= 0.2) & (v <= 0.93),
        "white": (s < 0.12) & (v > 0.9),
        "black": v < 0.22,
    }


# =========================================================================== SVG DOM helpers
_SVG_NS = "http://www.w3.org/2000/svg"


def _parse_svg(svg: str) -> Any:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             recover=True, remove_comments=False)
    try:
        root = etree.fromstring(svg.encode("utf-8"), parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    return root


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _norm_text(s: str) -> str:
    s = (s.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
         .replace("\u2026", "...").replace("\u2013", "-").replace("\u2014", "-").replace("\u00a0", " "))
    return re.sub(r"\s+", " ", s).strip().casefold()


def svg_texts(svg: str) -> list[str]:
    """The text content of each ``<text>`` element of an SVG, in document order (tspans joined)."""
    root = _parse_svg(svg) if svg else None
    if root is None:
        return []
    out = []
    for el in root.iter():
        if _local(el.tag) == "text":
            t = re.sub(r"\s+", " ", " ".join(x for x in el.itertext())).strip()
            if t:
                out.append(t)
    return out


_STOP = frozenset("""a an the and or of to in on at by for with from into onto is are be been being it its
this that these those there their them they as must should has have having each every any all some
which who whose while than then so such very also only just both either neither not no nor show shows
shown showing include includes including use uses used using draw drawn drawing depict depicted
image picture canvas scene""".split())


def _words(s: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", _norm_text(s)) if w not in _STOP]


def _quoted(text: str) -> list[str]:
    out = []
    for m in re.finditer(r"(?<![A-Za-z0-9])'([^']{1,80}?)'(?![A-Za-z0-9])|\"([^\"]{1,80}?)\"|"
                         r"\u2018([^\u2019]{1,80}?)\u2019|\u201c([^\u201d]{1,80}?)\u201d", text):
        q = next(g for g in m.groups() if g is not None).strip()
        if q:
            out.append(q)
    return out


def written_requirements(svg: str | None, requirements: Sequence[str], *, prompt: str | None = None,
                         texts: Sequence[str] | None = None) -> tuple[tuple[int, ...], bool]:
    """Find requirements (and the prompt) written out as text in the SVG instead of drawn.

    A requirement counts as written when most of its word pairs (quoted labels left out,
    since those are meant to be written) appear in the SVG's text, or nearly all of its
    content words do.

    Args:
        svg: The (sanitised) SVG.
        requirements: The requirements.
        prompt: The task prompt; also checked.
        texts: The SVG's texts, if already extracted.

    Returns:
        (indexes of written requirements, whether a large part of the prompt is written).
    """
    if texts is None:
        texts = svg_texts(svg) if svg else []
    if not texts:
        return (), False
    blob_words = [w for t in texts for w in re.findall(r"[a-z0-9]+", _norm_text(t))]
    pairs: set[tuple[str, str]] = set()
    for t in texts:
        ws = [w for w in re.findall(r"[a-z0-9]+", _norm_text(t)) if w not in _STOP]
        pairs.update(zip(ws, ws[1:], strict=False))
    # only pairs inside one element: labels placed one after another ("New Moon", "Full Moon") must not
    # chain into a sentence; a sentence wrapped over lines still keeps most of its pairs
    vocab = set(blob_words)

    def written(sentence: str, *, min_pairs: int = 2, share: float = JUDGE.written_pair_share) -> bool:
        for q in _quoted(sentence):
            sentence = sentence.replace(q, " ")
        ws = _words(sentence)
        if len(ws) < 3:
            return False
        bigrams = list(zip(ws, ws[1:], strict=False))
        hit = sum(1 for p in bigrams if p in pairs)
        if bigrams and hit >= min_pairs and hit / len(bigrams) >= share:
            return True
        return len(ws) >= 4 and sum(w in vocab for w in ws) / len(ws) >= JUDGE.written_word_share

    idx = tuple(i for i, r in enumerate(requirements) if written(r))
    # a title naming the subject is fine; most of the prompt spelled out is not
    prompt_written = bool(prompt) and written(re.sub(r"(?i)write `?svg`? code (for|to draw) an image of", "",
                                                     prompt or ""), min_pairs=4, share=0.75)
    return idx, prompt_written


# =========================================================================== requirement analysis
REQUIREMENT_KINDS = ("text", "holistic", "background", "count", "size", "position", "colour", "other")

_HOLISTIC_RE = re.compile(
    r"\b(looks?|feels?|feel|overall|style|styled|mood|atmosphere|cheerful|calm|clean|polished|modern|"
    r"realistic|cartoon|friendly|professional|aesthetic|balanced|harmonious|minimal|cluttered|convey|"
    r"conveys|conveying|evoke|evokes|sense of|recogni[sz]able|vibrant|expression)\b", re.I)
_COUNT_RE = re.compile(
    r"\b(exactly|at least|at most|only|precisely|no more than|no fewer than)?\s*\b(one|two|three|four|five|six|"
    r"seven|eight|nine|ten|eleven|twelve|\d+)\b(?!\s*(?:%|px|°|:|\.\d))", re.I)
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve".split())}
_SIZE_RE = re.compile(r"\b(larger|smaller|bigger|taller|shorter|wider|narrower|largest|smallest|biggest|"
                      r"tallest|twice|half the (?:size|height|width)|same size)\b", re.I)
_BACKGROUND_RE = re.compile(r"\bbackground\b", re.I)

# absolute regions as (x0, y0, x1, y1) fractions of the canvas
_REGIONS: dict[str, tuple[float, float, float, float]] = {
    "top-left": (0, 0, 0.45, 0.45), "top-right": (0.55, 0, 1, 0.45),
    "bottom-left": (0, 0.55, 0.45, 1), "bottom-right": (0.55, 0.55, 1, 1),
    "top-centre": (0.25, 0, 0.75, 0.45), "bottom-centre": (0.25, 0.55, 0.75, 1),
    "top": (0, 0, 1, 0.4), "bottom": (0, 0.6, 1, 1), "left": (0, 0, 0.4, 1), "right": (0.6, 0, 1, 1),
    "centre": (0.25, 0.25, 0.75, 0.75),
}
_V = r"(top|bottom|upper|lower)"
_H = r"(left|right|centre|center|middle)"
_FRAME = r"(?:\s+(?:corner|area|part|half|side|edge|region|portion))?(?:\s+of\s+the\s+(?:image|picture|canvas|" \
         r"scene|screen|page|frame|card|view|composition|window))?(?![\w-]*\s+of\s+the\s+(?!image|picture|canvas|" \
         r"scene|screen|page|frame|card|view|composition|window))"
_POS_RE = re.compile(
    rf"\b(?:in|at|on|near|along|across|towards?|occupies|fills?|covers?|covering|forms?|spans?|from)\s+"
    rf"(?:the\s+)?(?:very\s+)?(?:whole\s+|entire\s+)?"
    rf"(?:{_V}[\s-]*{_H}?|{_H}(?=\s+(?:side|edge|half|part|corner|of the (?:image|picture|canvas|scene|screen)))"
    rf"|{_H}\b(?=\s*(?:$|[.,;])))" + _FRAME, re.I)
_REL_RE = re.compile(r"\b(above|below|beneath|under|underneath|beside|next to|left of|right of|on top of|"
                     r"behind|in front of|inside|within|between|around|surround\w*|overlapping|attached)\b", re.I)


@dataclass(frozen=True)
class _Spec:
    kind: str
    texts: tuple[str, ...]
    colours: tuple[tuple[str, tuple[str, ...]], ...]  # (word, classes) each required
    colour_alternatives: bool  # "red or blue": any of them
    background: bool
    region: str | None
    count: tuple[str, int] | None
    count_colours: tuple[str, ...]
    shape: str | None
    holistic: bool
    negated: bool
    relative: bool
    size: bool
    residual: tuple[str, ...]
    bindings: tuple[tuple[str, tuple[str, ...], str], ...] = ()  # (colour, classes, shape group) named together
    text_colour: tuple[str, tuple[str, ...]] | None = None  # the colour the text is written in
    no_text: bool = False  # "no text appears anywhere"


_GENERIC = frozenset("""text texts label labels labelled labeled labelling read reads reading written write writes
word words title titled heading caption name named says say displayed display displays appear appears
appearing shown visible large small big bold font letters letter digits clearly placed sits sit stands stand
located positioned present presents contains contain filled fill fills colour color coloured colored
corner area part side edge half region portion top bottom upper lower left right centre center middle
near along across towards toward whole entire full very clearly slightly strip image picture screen page
background light pale dark deep bright soft warm cool vivid muted solid plain tinted tone shade shades
gradient exactly least most precisely more fewer one two three four five six seven eight nine ten eleven
twelve""".split())


_FRAME_WORDS = frozenset("image picture canvas scene screen page frame card view composition window".split())


def _count_free(text: str) -> bool:
    """Whether ``text`` names no count (a counted thing is not a background)."""
    return not re.search(r"\b(exactly|at least|at most|several|many|\d+)\b", text, re.I)


def _analyse(text: str) -> _Spec:
    quoted = tuple(_quoted(text))
    bare = text
    for q in quoted:
        bare = bare.replace(q, " ")
    colours: list[tuple[str, tuple[str, ...]]] = []
    positions: list[int] = []
    for m in _COLOUR_RE.finditer(bare):
        word = m.group(1).lower()
        # "orange" the fruit, "rose" the flower, "gold" medal ... are still colours for a necessary check
        before = bare[max(0, m.start() - 12):m.start()].lower()
        mod = next((x for x in _COLOUR_MODIFIERS if re.search(rf"\b{x}[\s-]*$", before)), "")
        key = f"{mod} {word}".strip()
        if key in {c[0] for c in colours}:
            continue
        classes = COLOUR_WORDS[word]
        if colours and re.fullmatch(r"[a-z]+-", bare[positions[-1]:m.start()], re.I):
            # a compound such as "grey-blue": either hue, in a muted tint
            prev_key, prev_cls = colours.pop()
            both = tuple(dict.fromkeys(prev_cls + classes))
            colours.append((f"{prev_key}-{word}", both + tuple(f"pale-{c}" for c in both)))
            continue
        if mod in ("light", "pale", "soft"):
            classes = classes + tuple(f"pale-{c}" for c in classes)
        elif mod in ("dark", "deep") and word not in ("white", "yellow", "orange", "pink"):
            classes = classes + ("black",)
        colours.append((key, classes))
        positions.append(m.start())
    bg = re.search(r"\bbackground\b", bare, re.I)
    if bg and len(colours) > 1:  # the colour nearest to "background" is the background's
        nearest = min(range(len(colours)), key=lambda i: abs(positions[i] - bg.start()))
        colours.insert(0, colours.pop(nearest))
    alternatives = bool(re.search(r"\b(" + "|".join(COLOUR_WORDS) + r")\b[\w\s-]{0,12}\bor\b", bare, re.I))
    pos = _POS_RE.search(bare)
    region = None
    of_object = False
    if pos:  # "at the top of the lighthouse" is relative to an object, not to the canvas
        after = re.match(r"\s*(?:corner|area|part|half|side|edge|region|portion)?s?\s+of\s+(?:the\s+|its\s+|a\s+)?"
                         r"([\w-]+)", bare[pos.end():], re.I)
        of_object = bool(after) and after.group(1).lower() not in _FRAME_WORDS
        if of_object:
            pos = None
    if pos:
        v, h1, h2 = pos.group(1), pos.group(2), pos.group(3)
        hz = (h1 or h2 or "").lower().replace("center", "centre").replace("middle", "centre")
        vt = (v or "").lower().replace("upper", "top").replace("lower", "bottom")
        if vt and hz and hz != "centre":
            region = f"{vt}-{hz}"
        elif vt and hz == "centre":
            region = f"{vt}-centre"
        else:
            region = vt or hz or None
    count = None
    cm = None
    for m in _COUNT_RE.finditer(bare):
        if m.group(1) or m.group(2).lower() not in ("one",):
            cm = m
            break
    if cm:
        op = (cm.group(1) or "exactly").lower()
        word = cm.group(2).lower()
        n = _NUMBER_WORDS.get(word, int(word) if word.isdigit() else 0)
        count = ("min" if op in ("at least", "no fewer than") else "max" if op in ("at most", "no more than")
                 else "eq", n)
    # colours inside the counted phrase: "exactly two white clouds", "ten white or pale yellow stars"
    count_colours: tuple[str, ...] = ()
    if cm:
        phrase = re.match(r"(?:\s+[\w-]+){0,6}", bare[cm.end():]).group(0)
        phrase = re.split(r"\b(?:is|are|in|on|at|with|that|which|and\s+(?!pale|light|dark|white|yellow))\b",
                          phrase)[0]
        count_colours = tuple(sorted({c for m in _COLOUR_RE.finditer(phrase)
                                      for c in COLOUR_WORDS[m.group(1).lower()]}))
    shape = None
    if cm:
        noun = re.match(r"(?:\s+[\w-]+){0,3}?\s+(" + "|".join(_SHAPE_NOUNS) + r")\b", bare[cm.end():], re.I)
        shape = _SHAPE_NOUNS[noun.group(1).lower()] if noun else None
    holistic = bool(_HOLISTIC_RE.search(bare))
    negated = bool(re.search(r"\b(no|not|without|never|none|nothing|apart from|except)\b|n't\b", bare, re.I))
    relative = bool(_REL_RE.search(bare)) or of_object
    size = bool(_SIZE_RE.search(bare))
    # the background's colour is named next to it: "a white background", "the background is white"
    colour_alt = "|".join(COLOUR_WORDS)
    background = bool(
        re.search(rf"\b({colour_alt})\b(?:[\s-]+[a-z]+){{0,3}}?[\s-]+background\b", bare, re.I)
        or re.search(rf"\bbackground\b(?:\s+[\w-]+){{0,5}}?\s+(?:is|are|should be|must be|:)\s+(?:a\s+)?(?:solid\s+)?"
                     rf"(?:(?:light|pale|dark|deep|bright|soft|very)\s+)*({colour_alt})\b", bare, re.I)
    ) and _count_free(bare)
    owner = re.search(r"\bbackground\s+of\s+(?:the\s+|an?\s+|its\s+)?(\w+)", bare, re.I)
    sub_background = bool(
        (owner and owner.group(1).lower() not in ("image", "picture", "canvas", "scene", "screen", "page", "app"))
        or re.search(r"\bbackground\s+of\s+(?:the\s+)?\w+\s+(?:inside|in|of|within)\b", bare, re.I))
    background = background and not sub_background
    residual = tuple(w for w in _words(bare) if w not in _GENERIC and w not in COLOUR_WORDS
                     and not w.isdigit())
    if quoted:
        kind = "text"
    elif holistic:
        kind = "holistic"
    elif background and colours:
        kind = "background"
    elif count:
        kind = "count"
    elif size:
        kind = "size"
    elif region:
        kind = "position"
    elif colours:
        kind = "colour"
    else:
        kind = "other"
    bindings = _bind_shapes(bare, colours)
    text_colour = _text_colour(bare, colours, alternatives)
    no_text = bool(re.search(r"\b(?:no|without(?:\s+any)?)\s+(?:visible\s+|other\s+)?(?:text|words|letters|labels?|"
                             r"writing|lettering)\b", bare, re.I)
                   and not re.search(r"\b(?:apart from|except|other than|besides|but|beyond)\b", bare, re.I))
    return _Spec(kind, quoted, tuple(colours), alternatives, background, region, count, count_colours, shape,
                 holistic, negated, relative, size, residual, bindings, text_colour, no_text)


def _colour_span(bare: str, key: str) -> re.Match[str] | None:
    return re.search(r"(?<![\w-])" + re.escape(key) + r"(?![\w])", bare, re.I)


def _bind_shapes(bare: str, colours: Sequence[tuple[str, tuple[str, ...]]]
                 ) -> tuple[tuple[str, tuple[str, ...], str], ...]:
    """Colours named together with a shape word: "a red circle", "boxes are light blue", "a round blue window"."""
    out = []
    for key, classes in colours:
        m = _colour_span(bare, key)
        if m is None:
            continue
        after = re.match(rf"(?:[\s-]+{_BIND_STOP}[a-z]+){{0,2}}?[\s-]+({_SHAPE_WORD_RE})\b", bare[m.end():], re.I)
        before = bare[:m.start()]
        pred = re.search(rf"\b({_SHAPE_WORD_RE})\s+(?:{_BIND_STOP}[a-z]+\s+){{0,2}}?(?:is|are)\s+(?:all\s+)?"
                         r"(?:a\s+|an\s+)?(?:(?:filled|coloured|colored|painted|drawn)\s+(?:in\s+)?)?$", before, re.I)
        adj = re.search(r"\b(" + "|".join(_SHAPE_ADJECTIVES) + r")\s+$", before, re.I)
        hit = after or pred or adj
        if hit:
            out.append((key, classes, _SHAPE_WORDS[hit.group(1).lower()]))
    return tuple(out)


def _text_colour(bare: str, colours: Sequence[tuple[str, tuple[str, ...]]],
                 alternatives: bool = False) -> tuple[str, tuple[str, ...]] | None:
    """The colour text is written in: "in white capital letters", "white text", "the labels are white"."""
    for key, classes in colours:
        m = _colour_span(bare, key)
        if m is None:
            continue
        after = re.match(rf"(?:\s+(?:bold|capital|large|small|thin|thick|uppercase)){{0,2}}\s+({_TEXT_NOUNS})\b",
                         bare[m.end():], re.I)
        pred = re.search(rf"\b(?:{_TEXT_NOUNS})\s+(?:{_BIND_STOP}[a-z]+\s+){{0,2}}?(?:is|are)\s+(?:all\s+)?"
                         r"(?:written\s+|drawn\s+|coloured\s+|colored\s+)?(?:in\s+)?$", bare[:m.start()], re.I)
        if after or pred:
            if alternatives:  # "cream or white letters": any of the colours named
                return key, tuple(dict.fromkeys(c for _, cc in colours for c in cc))
            return key, classes
    return None


def requirement_kind(text: str) -> str:
    """Coarse type of a requirement, for per-type calibration: one of :data:`REQUIREMENT_KINDS`."""
    return _analyse(text).kind


# =========================================================================== rule judge
@dataclass(frozen=True)
class _Facts:
    w: int
    h: int
    classes: dict[str, np.ndarray]
    share: dict[str, float]
    border_share: dict[str, float]
    texts: list[tuple[str, tuple[float, float, float, float] | None]]  # text, bbox fraction
    written: frozenset[str]
    shapes: list[tuple[str, tuple[int, int, int] | None]] | None = None  # primitive shapes, fill
    other_shapes: bool = True  # paths etc. that could draw more of them
    paints: "list[_Paint] | None" = None  # drawn elements with their colours (None: no SVG)
    tiny: bool = False  # the drawing covers a tiny part of an empty canvas: too small to see anything in


def _present(facts: _Facts, classes: Sequence[str]) -> bool:
    return any(facts.share.get(c, 0.0) >= JUDGE.colour_presence_share for c in classes)


def _in_region(box: tuple[float, float, float, float], region: str) -> bool:
    x0, y0, x1, y1 = _REGIONS[region]
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return x0 <= cx <= x1 and y0 <= cy <= y1


_SHAPE_NOUNS = {"circle": "circle", "circles": "circle", "dot": "dot", "dots": "dot", "square": "square",
                "squares": "square", "rectangle": "rect", "rectangles": "rect", "triangle": "triangle",
                "triangles": "triangle"}


def _shape_inventory(root: Any) -> tuple[list[tuple[str, tuple[int, int, int] | None]], bool]:
    """Primitive shapes of the DOM as (kind, fill RGB); and whether paths/uses could draw more."""
    from PIL import ImageColor

    def num(el: Any, name: str) -> float:
        try:
            return float(re.sub(r"[a-z%]+$", "", (el.get(name) or "0").strip()))
        except ValueError:
            return 0.0

    shapes: list[tuple[str, tuple[int, int, int] | None]] = []
    other = False
    for el in root.iter():
        tag = _local(el.tag)
        style = dict(kv.split(":", 1) for kv in (el.get("style") or "").replace(" ", "").split(";") if ":" in kv)
        fill_s = (style.get("fill") or el.get("fill") or "").strip()
        try:
            fill: tuple[int, int, int] | None = ImageColor.getrgb(fill_s)[:3] if fill_s else (0, 0, 0)
        except ValueError:
            fill = None  # none, url(#gradient), inherit, a CSS class ...
        if tag in ("circle", "ellipse"):
            rx = num(el, "r") if tag == "circle" else num(el, "rx")
            ry = num(el, "r") if tag == "circle" else num(el, "ry")
            if rx > 0 and ry > 0 and abs(rx - ry) <= 0.1 * max(rx, ry):
                shapes.append(("circle", fill))
        elif tag == "rect":
            w, h = num(el, "width"), num(el, "height")
            if w > 0 and h > 0:
                shapes.append(("square" if abs(w - h) <= 0.1 * max(w, h) else "rect", fill))
        elif tag == "polygon":
            pts = re.findall(r"-?[\d.]+(?:e-?\d+)?", el.get("points") or "")
            if len(pts) == 6:
                shapes.append(("triangle", fill))
            else:
                other = True
        elif tag in ("path", "use", "polyline", "image"):
            other = True
    return shapes, other


#: Shape words of requirements -> a group of drawn elements (see :data:`_SHAPE_GROUPS`).
_SHAPE_WORDS: dict[str, str] = {
    **dict.fromkeys("circle circles circular round disc discs disk disks dot dots oval ovals ellipse ellipses"
                    .split(), "round"),
    **dict.fromkeys("rectangle rectangles rectangular box boxes square squares bar bars".split(), "rect"),
    **dict.fromkeys("triangle triangles triangular".split(), "triangle"),
    **dict.fromkeys("line lines gridline gridlines".split(), "line"),
    **dict.fromkeys("outline outlines border borders stroke strokes".split(), "outline"),
    **dict.fromkeys("ring rings".split(), "ring"),
}
#: Shape group -> (element kinds that draw it, which paint carries the colour).
_SHAPE_GROUPS: dict[str, tuple[frozenset[str] | None, str]] = {
    "round": (frozenset({"circle", "ellipse"}), "fill"),
    "rect": (frozenset({"rect"}), "fill"),
    "triangle": (frozenset({"triangle"}), "fill"),
    "line": (frozenset({"line", "polyline", "path"}), "stroke"),
    "outline": (None, "stroke"),  # any element's outline
    "ring": (frozenset({"circle", "ellipse"}), "stroke"),
}
_SHAPE_ADJECTIVES = ("round", "circular", "rectangular", "triangular", "square")
_SHAPE_WORD_RE = "|".join(sorted(_SHAPE_WORDS, key=len, reverse=True))
# words a colour adjective does not reach across to a shape noun ("light blue with dark outlines")
_BIND_STOP = r"(?!(?:with|and|or|of|on|in|at|to|from|by|is|are|has|have|that|which|while)\b)"
_TEXT_NOUNS = r"text|texts|letters|lettering|label|labels|title|heading|caption|numbers|digits|words|font"


@dataclass(frozen=True)
class _Paint:
    """One drawn element of the DOM: its kind and the colours of its fill and outline."""

    kind: str  # circle, ellipse, rect, triangle, polygon, line, polyline, path, text
    fill: tuple[tuple[int, int, int], ...]  # () for none / unreadable; gradient stops when a gradient
    stroke: tuple[tuple[int, int, int], ...]
    text: str = ""


def _paint_inventory(root: Any) -> list[_Paint]:
    """Every drawn element with its (inherited) fill and stroke colours; gradients give their stops."""
    from PIL import ImageColor

    def rgb(value: str) -> tuple[int, int, int] | None:
        try:
            return tuple(ImageColor.getrgb(value)[:3])  # type: ignore[return-value]
        except ValueError:
            return None

    gradients: dict[str, tuple[tuple[int, int, int], ...]] = {}
    for el in root.iter():
        if _local(el.tag) in ("linearGradient", "radialGradient") and el.get("id"):
            stops = []
            for st in el.iter():
                if _local(st.tag) == "stop":
                    style = _style_of(st)
                    c = rgb((style.get("stop-color") or st.get("stop-color") or "black").strip())
                    if c is not None:
                        stops.append(c)
            gradients[el.get("id")] = tuple(stops)
    for el in root.iter():  # a gradient may borrow its stops from another (href)
        if _local(el.tag) in ("linearGradient", "radialGradient") and el.get("id") and not gradients[el.get("id")]:
            href = (el.get("href") or el.get("{http://www.w3.org/1999/xlink}href") or "").lstrip("#")
            gradients[el.get("id")] = gradients.get(href, ())

    def paint(value: str) -> tuple[tuple[int, int, int], ...]:
        value = value.strip()
        if not value or value in ("none", "transparent"):
            return ()
        m = re.match(r"url\(\s*['\"]?#([^)'\"]+)['\"]?\s*\)", value)
        if m:
            return gradients.get(m.group(1), ())
        c = rgb(value)
        return (c,) if c is not None else ()

    out: list[_Paint] = []
    skip = {"defs", "clipPath", "mask", "pattern", "marker", "symbol", "linearGradient", "radialGradient",
            "title", "desc", "metadata", "style"}

    def walk(el: Any, fill: str, stroke: str) -> None:
        tag = _local(el.tag)
        if tag in skip:
            return
        style = _style_of(el)
        fill = style.get("fill") or el.get("fill") or fill
        stroke = style.get("stroke") or el.get("stroke") or stroke
        if (style.get("display") or el.get("display") or "") == "none":
            return
        kind = tag
        if tag == "polygon":
            pts = re.findall(r"-?[\d.]+(?:e-?\d+)?", el.get("points") or "")
            kind = "triangle" if len(pts) == 6 else "polygon"
        if kind in ("circle", "ellipse", "rect", "triangle", "polygon", "line", "polyline", "path"):
            out.append(_Paint(kind, paint(fill) if kind != "line" else (), paint(stroke)))
        elif tag == "text":
            t = re.sub(r"\s+", " ", " ".join(el.itertext())).strip()
            if t:
                out.append(_Paint("text", paint(fill), paint(stroke), t))
            return
        for child in el:
            walk(child, fill, stroke)

    walk(root, "black", "none")
    return out


def _style_of(el: Any) -> dict[str, str]:
    return {k.strip(): v.strip() for k, v in (kv.split(":", 1) for kv in (el.get("style") or "").split(";")
                                               if ":" in kv)}


def _colours_in(colours: Sequence[tuple[int, int, int]], classes: Sequence[str]) -> bool:
    """Whether any of ``colours`` falls in any of the colour ``classes`` (``pale-*`` included)."""
    if not colours:
        return False
    px = np.array([list(colours)], dtype=np.uint8)
    masks = _colour_classes(px)
    masks.update({f"pale-{k}": m for k, m in _colour_classes(px, pale=True).items()})
    return any(bool(masks[c].any()) for c in classes if c in masks)


def _paint_matches(paints: Sequence[_Paint], classes: Sequence[str], group: str) -> bool:
    kinds, which = _SHAPE_GROUPS[group]
    return any((kinds is None or p.kind in kinds) and p.kind != "text"
               and _colours_in(p.fill if which == "fill" else p.stroke, classes) for p in paints)


def _region_share(facts: _Facts, classes: Sequence[str], region: str) -> float:
    x0, y0, x1, y1 = _REGIONS[region]
    ys = slice(int(y0 * facts.h), max(int(y1 * facts.h), int(y0 * facts.h) + 1))
    xs = slice(int(x0 * facts.w), max(int(x1 * facts.w), int(x0 * facts.w) + 1))
    best = 0.0
    for c in classes:
        m = facts.classes[c][ys, xs]
        best = max(best, float(m.mean()) if m.size else 0.0)
    return best


def _locate_texts(svg: str, root: Any) -> list[tuple[str, tuple[float, float, float, float] | None]]:
    """Each <text> with its bounding box on the canvas, found by one colour-coded render."""
    from lxml import etree

    texts = []
    for el in root.iter():
        if _local(el.tag) == "text":
            t = re.sub(r"\s+", " ", " ".join(el.itertext())).strip()
            if t:
                texts.append((t, el))
    if not texts:
        return []
    boxes: list[tuple[float, float, float, float] | None] = [None] * len(texts)
    try:
        from .render import render_png
    except ImportError:  # pragma: no cover - render module missing
        return [(t, None) for t, _ in texts]
    code_root = etree.fromstring(etree.tostring(root))
    text_els = [el for el in code_root.iter() if _local(el.tag) == "text"
                and re.sub(r"\s+", " ", " ".join(el.itertext())).strip()]
    drawables = {"rect", "circle", "ellipse", "line", "polyline", "polygon", "path", "image", "use"}
    for el in code_root.iter():
        if _local(el.tag) in drawables:
            el.set("style", "visibility:hidden;display:none")
    for i, el in enumerate(text_els[:40000]):
        colour = f"rgb({1 + i // 200},0,{1 + i % 200})"
        for sub in el.iter():
            sub.set("style", f"fill:{colour};stroke:none;opacity:1;fill-opacity:1;visibility:visible;"
                             "display:inline")
    try:
        res = render_png(etree.tostring(code_root, encoding="unicode"))
    except Exception:  # noqa: BLE001 - a failed locate only leaves positions undecided
        logger.debug("text locating render failed", exc_info=True)
        return [(t, None) for t, _ in texts]
    if not getattr(res, "ok", False) or not res.png:
        return [(t, None) for t, _ in texts]
    rgb = _load_rgb(res.png).astype(np.int32)
    h, w = rgb.shape[:2]
    pure = (rgb[..., 1] == 0) & (rgb[..., 0] >= 1) & (rgb[..., 2] >= 1)
    ids = np.where(pure, (rgb[..., 0] - 1) * 200 + (rgb[..., 2] - 1), -1)
    for i in range(len(text_els)):
        ys, xs = np.nonzero(ids == i)
        if xs.size:
            boxes[i] = (float(xs.min() / w), float(ys.min() / h), float((xs.max() + 1) / w),
                        float((ys.max() + 1) / h))
    return [(t, boxes[i]) for i, (t, _) in enumerate(texts)]


class RuleJudge(Judge):
    """A deterministic offline judge reading the sanitised SVG and its rendered pixels.

    It decides only what it can check:

    - **text**: quoted labels (``reads 'Sign in'``) must be in the SVG's ``<text>``; a missing
      label is not fulfilled; a present one fulfils a plain label requirement (and its coarse
      position, when one is named, is checked on the canvas);
    - **colours**: every colour a requirement names must be in the picture, else not fulfilled;
    - **background**: a "background is <colour>" requirement is checked against the canvas
      border and the largest colour area;
    - **position**: "a yellow sun in the top-right corner" needs that colour in that region;
      a label's position is measured on the canvas (one colour-coded extra render);
    - **shape counts**: "exactly two red circles" counts ``<circle>``/``<rect>``/triangle
      elements of that colour in the sanitised DOM;
    - **colour + shape**: "a red circular badge", "boxes are light blue", "grey connector lines"
      is fulfilled when an element of that shape (circle/ellipse, rect, triangle, line/path
      outline) has that fill or stroke (gradient stops included); otherwise undecided;
    - **text colour**: "reads 'Go' in white text" fails when the label's fill is another
      colour; "the labels are white" is decided by the fills of the ``<text>`` elements;
    - **no text**: "no text appears anywhere" is decided by the ``<text>`` elements;
    - **tiny drawings**: nothing is passed on a drawing too small to see (undecided instead).

    Everything else (objects, most counts, relative sizes, holistic or negated requirements)
    is *undecided*: not fulfilled, reported in :attr:`Verdict.undecided`. Text that merely
    writes a requirement out (a hack) is ignored when looking for labels.

    Args:
        cache: Optional :class:`JudgeCache` (or path); it is cheap enough to run without one.
        locate_text: Measure where labels are drawn (one extra render per picture with text).
    """

    name = "rule"
    uses_svg = True

    def __init__(self, *, cache: "JudgeCache | str | os.PathLike[str] | bool | None" = None,
                 locate_text: bool = True) -> None:
        super().__init__(cache=cache, prompt_version=f"rules-{JUDGE.rule_version}")
        self.locate_text = locate_text

    def _facts(self, png: bytes, svg: str | None, requirements: Sequence[str], prompt: str | None) -> _Facts:
        rgb = _load_rgb(png)
        h, w = rgb.shape[:2]
        classes = _colour_classes(rgb)
        classes.update({f"pale-{k}": m for k, m in _colour_classes(rgb, pale=True).items()})
        share = {k: float(m.mean()) for k, m in classes.items()}
        border = np.zeros((h, w), dtype=bool)
        bw = max(1, min(h, w) // 50)
        border[:bw, :] = border[-bw:, :] = True
        border[:, :bw] = border[:, -bw:] = True
        border_share = {k: float(m[border].mean()) for k, m in classes.items()}
        texts: list[tuple[str, tuple[float, float, float, float] | None]] = []
        written: frozenset[str] = frozenset()
        shapes, other = None, True
        paints = None
        if svg:
            root = _parse_svg(svg)
            if root is not None:
                shapes, other = _shape_inventory(root)
                paints = _paint_inventory(root)
                if self.locate_text:
                    texts = _locate_texts(svg, root)
                else:
                    texts = [(t, None) for t in svg_texts(svg)]
                idx, _ = written_requirements(None, requirements, texts=[t for t, _ in texts])
                # text nodes that spell out a requirement are hacks, not labels
                bad = set()
                for t, _ in texts:
                    if written_requirements(None, [requirements[i] for i in idx], texts=[t])[0]:
                        bad.add(t)
                written = frozenset(bad)
        tiny = ink_stats(png).tiny
        return _Facts(w, h, classes, share, border_share, texts, written, shapes, other, paints, tiny)

    def _decide(self, spec: _Spec, facts: _Facts, has_svg: bool) -> tuple[bool | None, str]:
        if spec.no_text and not spec.texts and facts.paints is not None:
            drawn = [p.text for p in facts.paints if p.kind == "text"]
            if drawn:
                return False, f"text '{drawn[0][:40]}' is drawn"
            if len(spec.residual) <= JUDGE.rule_max_residual_words:
                return True, "no text element in the SVG"
        if spec.negated:  # "no text apart from ...", "not red": the checks below would be read backwards
            return None, "negated requirement: needs a vision judge"
        # necessary conditions first: a missing label or colour settles it
        found_boxes: list[tuple[float, float, float, float] | None] = []
        if spec.texts:
            if not has_svg:
                return None, "no SVG to read text from"
            labels = [(t, _norm_text(t), b) for t, b in facts.texts if t not in facts.written]
            joined = " ".join(n for _, n, _ in labels)
            for q in spec.texts:
                nq = _norm_text(q)
                hits = [b for _, n, b in labels if nq in n or nq.replace(" ", "") in n.replace(" ", "")]
                if not hits and nq not in joined:
                    return False, f"no text '{q}' in the picture"
                found_boxes.extend(hits or [None])
                if spec.text_colour and facts.paints is not None:
                    word, tcls = spec.text_colour
                    fills = [p.fill for p in facts.paints if p.kind == "text" and p.text not in facts.written
                             and _contains_text(_norm_text(p.text), nq)]
                    if fills and all(f for f in fills) and not any(_colours_in(f, tcls) for f in fills):
                        return False, f"text '{q}' is not {word}"
        missing = [word for word, cls in spec.colours if not _present(facts, cls)]
        if spec.colours and missing:
            if not spec.colour_alternatives or len(missing) == len(spec.colours):
                return False, f"no {missing[0]} anywhere in the picture"
        if spec.holistic:
            return None, "holistic requirement: needs a vision judge"
        if (spec.text_colour and not spec.texts and not spec.bindings and facts.paints is not None
                and len(spec.colours) == 1 and not spec.relative
                and len(spec.residual) <= JUDGE.rule_max_residual_words):
            word, tcls = spec.text_colour
            fills = [p.fill for p in facts.paints if p.kind == "text" and p.text not in facts.written]
            if not fills:
                return False, "no text in the SVG"
            hit = sum(_colours_in(f, tcls) for f in fills)
            if hit * 2 >= len(fills):
                return True, f"{hit} of {len(fills)} text element(s) are {word}"
            if hit == 0 and all(fills):
                return False, f"no text element is {word}"
            return None, f"{hit} of {len(fills)} text element(s) are {word}: unclear"
        positive: list[str] = []
        if spec.background and spec.colours and not spec.texts:
            word, cls = spec.colours[0]
            allcls = tuple(c for _, cc in spec.colours for c in cc) if spec.colour_alternatives else cls
            border = max(facts.border_share.get(c, 0.0) for c in allcls)
            area = max(facts.share.get(c, 0.0) for c in allcls)
            if border >= 0.5 or area >= 0.3:
                positive.append(f"background is {word}")
            elif area < 0.08:
                return False, f"{word} covers only {area:.0%} of the picture: not the background"
            else:
                return None, f"{word} covers {area:.0%}: background unclear"
        if spec.region and not spec.relative:
            if spec.texts:
                boxes = [b for b in found_boxes if b is not None]
                if len(boxes) < len(found_boxes) or not boxes:
                    return None, "text found but its position could not be measured"
                if any(_in_region(b, spec.region) for b in boxes):
                    positive.append(f"text in the {spec.region}")
                else:
                    return False, f"text found but not in the {spec.region}"
            elif len(spec.colours) == 1 and not spec.background:
                word, cls = spec.colours[0]
                if _region_share(facts, cls, spec.region) >= JUDGE.region_presence_share:
                    positive.append(f"{word} in the {spec.region}")
                else:
                    return False, f"no {word} in the {spec.region}"
        if spec.texts:  # the labels are the substance of such a requirement
            return True, "; ".join(positive or ["text present"])
        if spec.count and spec.shape and not spec.relative and not spec.region and facts.shapes is not None:
            op, n = spec.count
            wanted = {"dot": ("circle",), "circle": ("circle",), "rect": ("rect", "square"),
                      "square": ("square",), "triangle": ("triangle",)}[spec.shape]
            found = 0
            for kind, fill in facts.shapes:
                if kind not in wanted:
                    continue
                if spec.count_colours:
                    if fill is None:
                        return None, "a shape's colour could not be read: the count needs a vision judge"
                    cls = _colour_classes(np.array([[fill]], dtype=np.uint8))
                    if not any(cls[c][0, 0] for c in spec.count_colours):
                        continue
                found += 1
            ok = found == n if op == "eq" else found >= n if op == "min" else found <= n
            what = " ".join([*spec.count_colours, spec.shape])
            if ok and len(spec.residual) <= JUDGE.rule_max_residual_words + 1:
                return True, f"{found} {what} element(s) in the SVG"
            if not ok and not facts.other_shapes and found < n:
                return False, f"only {found} {what} element(s) in the SVG, {n} wanted"
            return None, f"{found} {what} element(s) in the SVG: the count needs a vision judge"
        if _shape_rule_applies(spec) and facts.paints is not None:
            if all(_paint_matches(facts.paints, cls, group) for _, cls, group in spec.bindings):
                what = ", ".join(f"{word} {group}" for word, _, group in spec.bindings)
                return True, "; ".join([*positive, f"{what} drawn"])
        simple = (len(spec.residual) <= JUDGE.rule_max_residual_words and not spec.relative
                  and not spec.size and spec.count is None)
        if positive and simple:
            return True, "; ".join(positive)
        if positive:
            return None, f"{'; '.join(positive)}, but the rest needs a vision judge"
        return None, "needs a vision judge"

    async def _evaluate(self, png: bytes | None, svg: str | None, requirements: tuple[str, ...],
                        prompt: str | None) -> Verdict:
        if png is None:
            return _invalid(self.name, requirements, "no image to judge")
        try:
            facts = await asyncio.to_thread(self._facts, png, svg, requirements, prompt)
        except Exception as exc:  # noqa: BLE001 - e.g. a corrupt PNG
            return _invalid(self.name, requirements, f"could not read the image: {exc}")
        items = []
        for i, text in enumerate(requirements):
            ok, reason = self._decide(_analyse(text), facts, svg is not None)
            if ok and facts.tiny:  # present in the DOM, but drawn too small for anyone to see it
                ok, reason = None, f"{reason}, but the drawing is tiny: needs a vision judge"
            items.append(RequirementVerdict(i, text, bool(ok), reason, decided=ok is not None))
        undecided = tuple(i.index for i in items if not i.decided)
        return Verdict(judge=self.name, items=tuple(items), fulfilled=sum(i.fulfilled for i in items),
                       total=len(items), undecided=undecided,
                       reasoning=f"decided {len(items) - len(undecided)} of {len(items)} requirements")


# =========================================================================== coverage
@dataclass(frozen=True)
class CoverageReport:
    """How many requirements the rule judge can decide, from their wording alone.

    Attributes:
        total: Requirements examined.
        decidable: Both ways (fulfilled or not): labels, backgrounds, colour positions.
        refutable: Only "not fulfilled" (a named colour missing), else undecided.
        by_kind: Per :func:`requirement_kind`: (total, decidable, refutable).
    """

    total: int
    decidable: int
    refutable: int
    by_kind: dict[str, tuple[int, int, int]]

    @property
    def decidable_share(self) -> float:
        """Share decidable both ways."""
        return self.decidable / self.total if self.total else 0.0

    @property
    def any_share(self) -> float:
        """Share the rule judge can decide at least sometimes."""
        return (self.decidable + self.refutable) / self.total if self.total else 0.0


def _contains_text(hay: str, needle: str) -> bool:
    return needle in hay or needle.replace(" ", "") in hay.replace(" ", "")


def _shape_rule_applies(spec: _Spec) -> bool:
    """Whether "a <colour> <shape>" evidence (an element of that shape in that colour) may fulfil ``spec``."""
    return (bool(spec.bindings) and not spec.texts and not spec.negated and not spec.holistic
            and not spec.background and not spec.size and not spec.colour_alternatives
            and not (spec.count and (spec.count_colours or spec.shape)))


def _can_decide(spec: _Spec) -> Literal["decidable", "refutable", "none"]:
    simple = (len(spec.residual) <= JUDGE.rule_max_residual_words and not spec.relative
              and not spec.size and spec.count is None and not spec.holistic)
    if spec.no_text and not spec.texts:
        return "decidable" if len(spec.residual) <= JUDGE.rule_max_residual_words else "refutable"
    if spec.negated:
        return "none"
    if spec.texts:  # a label is checked both ways
        return "decidable"
    if _shape_rule_applies(spec):
        return "decidable"  # the colour refutes, an element of that colour and shape fulfils
    if (spec.text_colour and not spec.bindings and not spec.relative and not spec.holistic
            and len(spec.colours) == 1 and len(spec.residual) <= JUDGE.rule_max_residual_words):
        return "decidable"  # the colour of the <text> elements
    if spec.count and spec.shape and not spec.relative and not spec.region:
        return "decidable"  # counted in the DOM (when the shapes are drawn as primitives)
    checks = (spec.background and spec.colours) or (spec.region and not spec.relative and len(spec.colours) == 1)
    if checks and simple:
        return "decidable"
    if spec.texts or spec.colours:
        return "refutable"
    return "none"


def rule_coverage(requirement_lists: Iterable[Sequence[str]]) -> CoverageReport:
    """The rule judge's coverage on some requirement lists (one list per prompt).

    A requirement is *decidable* when the rule judge has a check that can say fulfilled or
    not (e.g. a quoted label), *refutable* when it can only say "not fulfilled" (a named
    colour missing from the picture) and is otherwise undecided.
    """
    total = dec = ref = 0
    by_kind: dict[str, list[int]] = {}
    for reqs in requirement_lists:
        for r in reqs:
            spec = _analyse(r)
            c = _can_decide(spec)
            total += 1
            k = by_kind.setdefault(spec.kind, [0, 0, 0])
            k[0] += 1
            if c == "decidable":
                dec += 1
                k[1] += 1
            elif c == "refutable":
                ref += 1
                k[2] += 1
    return CoverageReport(total, dec, ref, {k: (v[0], v[1], v[2]) for k, v in sorted(by_kind.items())})


# =========================================================================== entry points
def default_judge(settings: Settings | None = None, *, cache: Any = True) -> Judge:
    """The judge for the current mode: :class:`VisionJudge` live, :class:`RuleJudge` offline.

    Raises:
        MissingKeyError: ``SVGKIT_MODE=live`` but ``OPENAI_API_KEY`` is not set.
    """
    settings = settings or get_settings()
    if settings.mode("judge") == "live":
        return VisionJudge(settings=settings, cache=cache)
    return RuleJudge()


async def ajudge(image: ImageInput, requirements: Sequence[str], *, using: Judge | None = None,
                 svg: str | None = None, prompt: str | None = None,
                 settings: Settings | None = None) -> Verdict:
    """Judge one image with ``using`` (default: :func:`default_judge`). See :meth:`Judge.ajudge`."""
    j = using or default_judge(settings)
    return await j.ajudge(image, requirements, svg=svg, prompt=prompt)


def judge(image: ImageInput, requirements: Sequence[str], *, using: Judge | None = None,
          svg: str | None = None, prompt: str | None = None, settings: Settings | None = None) -> Verdict:
    """Judge one image, requirement by requirement.

    Args:
        image: PNG bytes, a PNG path, or a :class:`~svgkit.render.RenderResult` (its sanitised
            SVG is used as well).
        requirements: The requirements, in order.
        using: The judge (default: vision judge live, rule judge offline).
        svg: The sanitised SVG (the rule judge reads it; taken from a RenderResult if given).
        prompt: The task prompt.
        settings: Mode and keys (default: from the environment).

    Returns:
        A :class:`Verdict`; check :attr:`Verdict.valid` before trusting its score.
    """
    j = using or default_judge(settings)
    return j.judge(image, requirements, svg=svg, prompt=prompt)
