"""Scoring answers in notebooks: the reward per answer, kept with its verdicts and its picture.

:func:`score_generations` scores generated (or bundled example) answers with the reward
(:func:`svgkit.reward.ascore_with_render`) and returns one :class:`ScoredAnswer` per answer: the
reward, the per-requirement verdicts (:class:`RequirementResult`), the hand-made labels of a
bundled example, and the render the reward judged, so galleries and figures
(:mod:`svgkit.gallery`, :mod:`svgkit.analysis`) show that picture without drawing it again.

:func:`judged_by` and :func:`decided_figures` read a reward's metrics, here and in the
evaluator's results (:class:`svgkit.evaluation.RowScore`).
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._aio import run_sync
from ._ep import EvaluateResult
from .config import EVALUATION
from .generate import Generation
from .judge import Judge, default_judge
from .render import RenderResult
from .reward import ascore_with_render

__all__ = [
    "RequirementResult",
    "ScoredAnswer",
    "ascore_answer",
    "decided_figures",
    "invalid_score",
    "judged_by",
    "requirement_results",
    "score_generations",
]


def invalid_score(reason: str) -> EvaluateResult:
    """A 0 with ``is_score_valid=False`` and ``reason``: a failure that says nothing about the answer.

    Eval Protocol leaves invalid scores out of its mean, so a failed rollout or a scoring error is
    never mistaken for a real zero.
    """
    return EvaluateResult(score=0.0, reason=reason, is_score_valid=False)


async def ascore_answer(text: str, requirements: Sequence[str], **kwargs: Any
                        ) -> tuple[EvaluateResult, RenderResult | None]:
    """The reward and its render (:func:`svgkit.reward.ascore_with_render`), never raising.

    An unexpected error becomes an :func:`invalid_score` with the error as its reason (and no
    render), so one bad answer never loses a batch's (paid) results.

    Args:
        text: The model's answer.
        requirements: The prompt's requirements, in order.
        **kwargs: Keyword options of :func:`svgkit.reward.ascore_with_render` (``judge``, ``prompt``,
            ``settings`` ...).
    """
    try:
        return await ascore_with_render(text, requirements, **kwargs)
    except Exception as exc:
        return invalid_score(f"scoring failed: {type(exc).__name__}: {exc}"), None


@dataclass(frozen=True)
class RequirementResult:
    """One requirement's verdict as the reward reported it."""

    index: int
    text: str
    fulfilled: bool
    decided: bool
    reason: str


def requirement_results(result: EvaluateResult, requirements: Sequence[str]) -> list[RequirementResult]:
    """The per-requirement verdicts inside a reward's metrics (``requirement_NN``), in order.

    Requirements the reward never reached (no SVG, render failure) come back unfulfilled and
    undecided, with the overall reason.
    """
    out = []
    metrics = result.metrics or {}
    for i, text in enumerate(requirements):
        metric = metrics.get(f"requirement_{i + 1:02d}")
        if metric is None:
            out.append(RequirementResult(i, text, False, False, result.reason or "not judged"))
            continue
        reason = metric.reason or ""
        reason = reason.split(" -> ", 1)[1] if reason.startswith(f"{text} -> ") else reason
        out.append(RequirementResult(i, text, metric.score >= 1.0, bool(metric.is_score_valid), reason))
    return out


@dataclass(frozen=True)
class ScoredAnswer:
    """An answer with its row, reward, the render it was judged on and (for bundled examples) the hand-made labels.

    Attributes:
        row_id: The dataset row it answers.
        sample_index: Which sample of that row (0 for a bundled example).
        prompt: The task prompt.
        requirements: The prompt's requirements, in order.
        response: The model's answer (``None`` when the generation failed).
        source: Where the answer came from (``live``, ``bundled-example``, ``miniature`` ...).
        result: The reward.
        example_id: The bundled example's id, when it is one.
        labels: The bundled example's hand-made labels, one per requirement.
        render: The render the reward judged (``None`` when it drew nothing: no complete SVG, a
            failed generation or scoring error, or an answer not scored by :func:`score_generations`).
    """

    row_id: str
    sample_index: int
    prompt: str
    requirements: tuple[str, ...]
    response: str | None
    source: str
    result: EvaluateResult
    example_id: str | None = None
    labels: tuple[bool, ...] | None = None
    render: RenderResult | None = field(default=None, repr=False, compare=False)

    @property
    def score(self) -> float:
        """The reward, fulfilled / total."""
        return float(self.result.score)

    @property
    def items(self) -> list[RequirementResult]:
        """Per-requirement verdicts."""
        return requirement_results(self.result, self.requirements)

    @property
    def judge(self) -> str | None:
        """Which judge scored it (``None`` when no judge was asked: a guard or a failure stopped it first)."""
        return judged_by(self.result.metrics or {})

    @property
    def decided_share(self) -> float | None:
        """Share of the requirements the judge decided (``None`` when no judge was asked)."""
        return decided_figures(self.result.metrics or {})[0]

    @property
    def decided_score(self) -> float | None:
        """``fulfilled / decided`` (``None`` when nothing was decided): beside :attr:`score`, which
        counts undecided requirements as not fulfilled and is then a lower bound."""
        return decided_figures(self.result.metrics or {})[1]


def _metric_data(metric: Any) -> dict[str, Any]:
    data = metric.get("data") if isinstance(metric, dict) else getattr(metric, "data", None)
    return data if isinstance(data, dict) else {}


def judged_by(metrics: dict[str, Any]) -> str | None:
    """The judge named in a reward's metrics (``None`` when no judge was asked)."""
    metric = metrics.get("judge")
    return str(_metric_data(metric).get("judge")) if metric is not None and _metric_data(metric).get("judge") else None


def decided_figures(metrics: dict[str, Any]) -> tuple[float | None, float | None]:
    """``(decided_share, fulfilled / decided)`` from a reward's metrics (``None`` where not known)."""
    metric = metrics.get("decided_share")
    if metric is None:
        return None, None
    score = metric.get("score") if isinstance(metric, dict) else getattr(metric, "score", None)
    of_decided = _metric_data(metric).get("score_of_decided")
    return (float(score) if score is not None else None,
            float(of_decided) if of_decided is not None else None)


def _row_info(row: Any) -> tuple[str, dict[str, Any]]:
    meta = row["input_metadata"] if isinstance(row, dict) else row.input_metadata.model_dump()
    return meta["row_id"], meta.get("dataset_info") or {}


def score_generations(generations: Sequence[Generation], rows: Sequence[Any], *, judge: Judge | None = None,
                      concurrency: int = EVALUATION.concurrency, progress: bool = True) -> list[ScoredAnswer]:
    """Score generated (or bundled example) answers with the reward, keeping input order.

    A generation that failed (no response) scores 0 with ``is_score_valid=False``. Each answer
    keeps the render the reward judged (:attr:`ScoredAnswer.render`).

    Args:
        generations: From :func:`svgkit.generate.generate`.
        rows: The rows they answer (dicts or ``EvaluationRow``), matched by ``row_id``.
        judge: Judge to use (default: :func:`svgkit.judge.default_judge`, with live rollouts when any
            generation is live model output: then it refuses the rule judge unless ``SVGKIT_JUDGE=rule``).
        concurrency: Answers scored at once.
        progress: Show a progress bar.

    Raises:
        KeyError: A generation's ``row_id`` is not among ``rows``.
    """
    from tqdm.auto import tqdm

    infos = dict(_row_info(r) for r in rows)
    by_example = {}
    for info in infos.values():
        if info.get("example_id"):
            by_example[info["example_id"]] = info
    # live model output is scored as live rollouts: never by a rule judge nobody chose
    judge = judge or default_judge(live_rollouts=any(g.source == "live" for g in generations))

    async def one(gen: Generation, sem: asyncio.Semaphore, bar: Any) -> ScoredAnswer:
        info = by_example.get(gen.example_id or "") or infos.get(gen.row_id)
        if info is None:
            raise KeyError(f"generation for row {gen.row_id!r} has no matching row")
        reqs = tuple(info["requirements"])
        async with sem:
            if gen.response is None:
                result, render = invalid_score(f"generation failed: {gen.error or 'no response'}"), None
            else:
                # one bad item must not lose the batch's (paid) results
                result, render = await ascore_answer(gen.response, reqs, judge=judge,
                                                     prompt=info.get("original_prompt"))
        bar.update(1)
        labels = tuple(info["labels"]) if "labels" in info else None
        return ScoredAnswer(gen.row_id, gen.sample_index, info.get("original_prompt", ""), reqs, gen.response,
                            gen.source, result, gen.example_id, labels, render)

    async def run_all() -> list[ScoredAnswer]:
        sem = asyncio.Semaphore(max(1, concurrency))
        with tqdm(total=len(generations), desc="scoring", disable=not progress) as bar:
            return list(await asyncio.gather(*(one(g, sem, bar) for g in generations)))

    return run_sync(run_all())
