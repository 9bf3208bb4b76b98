"""Which judge scores, and one-call judging.

:func:`choose_judge` is the one answer to "which judge will this evaluator use, given these
settings": the vision judge when its key is set (and spending is allowed), the rule judge
offline, and a refusal where live rollouts would otherwise be scored by the rule judge without
anyone choosing it (``SVGKIT_JUDGE=rule``). :func:`default_judge` builds the judge it names;
:func:`judge` and :func:`ajudge` judge one image with it.

============================  =======================  =====================================
run                           judge key set            no judge key
============================  =======================  =====================================
offline (bundled examples)    vision judge (if spend)  rule judge
live rollouts                 vision judge             **refused**, unless ``SVGKIT_JUDGE=rule``
============================  =======================  =====================================

Live rollouts are any run that is not the offline bundled-examples run: live generation,
remote rollouts to a live model, and the uploaded evaluator on Fireworks (where
``FIREWORKS_API_KEY`` is injected, so generation is live).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..config import MODELS, STEP_KEYS, MissingKeyError, Settings, get_settings
from .base import ImageInput, Judge
from .records import Verdict
from .rules import RuleJudge
from .vision import VisionJudge

__all__ = ["JudgeChoice", "JudgeNotChosenError", "ajudge", "choose_judge", "default_judge", "judge"]

_KEY_NAMES = STEP_KEYS["OPENAI_API_KEY"]


class JudgeNotChosenError(MissingKeyError):
    """Live rollouts would be scored by the rule judge, which nobody chose: the judge's key is missing."""


@dataclass(frozen=True)
class JudgeChoice:
    """Which judge an evaluator (or any scoring run) uses, and why.

    Attributes:
        judge: ``"vision"`` or ``"rule"``: the judge that scores (or would, were it not refused).
        model: The vision judge's model (``None`` for the rule judge).
        key_name: The environment variable its key comes from, if any.
        chosen: ``SVGKIT_JUDGE`` (``"rule"``, ``"vision"``) or ``None`` when the mode decides.
        live_rollouts: Whether the answers are live rollouts (a training run) rather than bundled examples.
        reason: One sentence on why.
        error: Why the evaluator refuses to start (``None``: it runs). Names the missing key and how
            to provide it, locally and as a Fireworks secret.
    """

    judge: Literal["vision", "rule"]
    model: str | None
    key_name: str | None
    chosen: Literal["rule", "vision"] | None
    live_rollouts: bool
    reason: str
    error: str | None = None

    @property
    def refused(self) -> bool:
        """Whether the run must not start."""
        return self.error is not None

    @property
    def safe_for_training(self) -> bool:
        """Whether live rollouts are scored by the vision judge (the rule judge is an offline stand-in)."""
        return self.judge == "vision" and not self.refused

    def describe(self) -> str:
        """One line for banners and run summaries: which judge scores."""
        if self.refused:
            return f"no judge: {self.error}"
        if self.judge == "vision":
            return f"vision judge {self.model} (key from {self.key_name})"
        how = "chosen with SVGKIT_JUDGE=rule" if self.chosen == "rule" else "offline"
        return f"rule judge ({how}; an offline stand-in, not a training reward)"

    def check(self) -> None:
        """Raise when the run must not start.

        Raises:
            JudgeNotChosenError: :attr:`refused`, with :attr:`error` as the message.
        """
        if self.error is not None:
            raise JudgeNotChosenError(self.error)


def _missing_key_error(what: str) -> str:
    return (f"{what}, but no judge key is set: put OPENAI_API_KEY (or SVGKIT_JUDGE_API_KEY for a vision judge "
            "on the endpoint in SVGKIT_JUDGE_BASE_URL) in the environment or .env locally, and for the evaluator "
            "uploaded to Fireworks add it as a secret of your Fireworks account under the same name (notebook 03 "
            "checks and puts it; or the dashboard's secrets page); or set SVGKIT_JUDGE=rule to score with the "
            "offline rule judge on purpose (not a training reward)")


def choose_judge(settings: Settings | None = None, *, live_rollouts: bool = False) -> JudgeChoice:
    """Which judge scores, given these settings (see the module docs).

    Args:
        settings: Mode, keys, spending opt-in and ``SVGKIT_JUDGE`` (default: from the environment).
        live_rollouts: The answers are live rollouts (live generation, remote rollouts to a live
            model, the uploaded evaluator on Fireworks), not the offline bundled examples.

    Raises:
        MissingKeyError: ``SVGKIT_MODE=live`` without a judge key (as :meth:`Settings.mode` says).
    """
    settings = get_settings() if settings is None else settings
    chosen = settings.judge_choice
    key_name = settings.judge_key_env or (_KEY_NAMES[-1] if settings.judge_api_key else None)
    model = settings.judge_model or MODELS.judge
    if chosen == "rule":
        why = ("SVGKIT_JUDGE=rule: live rollouts are scored by the offline rule judge, on purpose" if live_rollouts
               else "SVGKIT_JUDGE=rule: the offline rule judge scores")
        return JudgeChoice("rule", None, None, chosen, live_rollouts, why)
    if settings.mode("judge") == "live":
        return JudgeChoice("vision", model, key_name, chosen, live_rollouts,
                           f"the judge's key is set ({key_name}), so the vision judge {model} scores")
    if chosen == "vision" and not settings.judge_api_key:
        return JudgeChoice("vision", model, None, chosen, live_rollouts, "SVGKIT_JUDGE=vision, but no judge key",
                           _missing_key_error("SVGKIT_JUDGE=vision asks for the vision judge"))
    if chosen == "vision":
        return JudgeChoice("vision", model, key_name, chosen, live_rollouts,
                           "SVGKIT_JUDGE=vision, but the vision judge is held back",
                           "SVGKIT_JUDGE=vision asks for the vision judge, but it is held back: spending is not "
                           "enabled (ALLOW_SPEND = False in the notebook, or with_spending(True)) or "
                           "SVGKIT_MODE=offline")
    if not live_rollouts:
        why = ("spending is not enabled here, so the offline rule judge scores" if settings.judge_api_key
               else "offline run on the bundled examples: the offline rule judge scores")
        return JudgeChoice("rule", None, None, chosen, live_rollouts, why)
    return JudgeChoice("rule", None, None, chosen, live_rollouts,
                       "live rollouts and no judge key: the rule judge would score them, which nobody chose",
                       _missing_key_error("live rollouts need the vision judge to score them"))


def default_judge(settings: Settings | None = None, *, cache: Any = True, live_rollouts: bool = False,
                  choice: JudgeChoice | None = None) -> Judge:
    """The judge :func:`choose_judge` names: :class:`VisionJudge` live, :class:`RuleJudge` offline.

    Args:
        settings: Mode and keys (default: from the environment).
        cache: The vision judge's cache (see :class:`VisionJudge`).
        live_rollouts: The answers are live rollouts (see :func:`choose_judge`).
        choice: A choice already made (then ``settings`` only feeds the vision judge).

    Raises:
        JudgeNotChosenError: Live rollouts, no judge key and ``SVGKIT_JUDGE=rule`` not set.
        MissingKeyError: ``SVGKIT_MODE=live`` or ``SVGKIT_JUDGE=vision`` without a judge key.
    """
    settings = get_settings() if settings is None else settings
    choice = choice or choose_judge(settings, live_rollouts=live_rollouts)
    choice.check()
    if choice.judge == "vision":
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
