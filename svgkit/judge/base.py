"""The :class:`Judge` base class: the image inputs it accepts, caching, usage totals and the
sync/async entry points. A judge implements :meth:`Judge._evaluate`."""

import asyncio
import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .._aio import run_sync
from ..config import JUDGE
from .cache import JudgeCache
from .records import JudgeUsage, Verdict

__all__ = ["ImageInput", "Judge"]

#: What a judge accepts as the image: PNG bytes, a PNG file path, or an object with ``.png``
#: and ``.svg`` (a :class:`~svgkit.render.RenderResult`).
ImageInput = Any


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
