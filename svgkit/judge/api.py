"""One-call judging: :func:`default_judge` picks the judge for the current mode (vision live,
rules offline); :func:`judge` and :func:`ajudge` judge one image with it."""

from collections.abc import Sequence
from typing import Any

from ..config import Settings, get_settings
from .base import ImageInput, Judge
from .records import Verdict
from .rules import RuleJudge
from .vision import VisionJudge

__all__ = ["ajudge", "default_judge", "judge"]


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
