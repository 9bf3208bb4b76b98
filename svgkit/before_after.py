"""Where notebook 05's before and after answers come from: the holdout live, the miniature offline.

:mod:`svgkit.analysis` compares two lists of scored answers; this module makes them.

- **Live, on the holdout** (prompts training never saw): :func:`plan_holdout` says what sampling
  both models costs (nothing sent), :func:`sample_holdout` samples several answers per prompt from
  the base and the tuned model on their deployments (:mod:`svgkit.deploy`) through the same
  generate-and-score path as notebook 02 (:func:`svgkit.generate.generate`, resumable, then
  :func:`svgkit.scoring.score_generations`), behind an explicit opt-in.
- **Offline, on the RFT miniature** (:mod:`svgkit.minirft`): :func:`miniature_answers` scores the
  starting and the final policy's most likely answers to the training prompts. A bandit over fixed
  answers cannot generalise, so the miniature has no holdout comparison; everything made from it
  says it is the miniature.
- :func:`job_training_log`: a live job's reward curve (Weights & Biases, or what the job reports)
  as a :class:`svgkit.training_log.TrainingLog`, the table the miniature writes too.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import ANALYSIS, Settings, get_settings, output_path
from .generate import generate, generation_mode
from .pricing import CostEstimate, estimate_cost
from .rft.views import MarkdownView
from .training_log import TrainingLog, log_from_points

if TYPE_CHECKING:
    from .analysis import BeforeAfter
    from .deploy import ServedModel
    from .display import Markdown
    from .judge import Judge
    from .minirft import MiniRftRun
    from .rehearsal import PlatformSession
    from .rft.monitor import JobWatch
    from .scoring import ScoredAnswer

__all__ = [
    "HOLDOUT_NEEDS_LIVE",
    "MINIATURE_SOURCE",
    "HoldoutPlan",
    "HoldoutRun",
    "job_outcome",
    "job_training_log",
    "miniature_comparison",
    "plan_holdout",
    "sample_holdout",
]

#: How every figure and table made from the miniature names its source.
MINIATURE_SOURCE = ("RFT miniature (offline): a bandit choosing among fixed answers, on its training prompts; "
                    "not a language model")

#: Why the holdout comparison does not run offline (shown wherever it would be).
HOLDOUT_NEEDS_LIVE = (
    "The holdout comparison needs a live model: it samples new answers from the base and the tuned model "
    "on prompts training never saw. Offline there is no model to sample (the stand-in's deployments serve "
    "no answers), and the RFT miniature cannot stand in for it: a bandit that picks among fixed answers to "
    "the training prompts has nothing to say about a prompt it has no answers for.")


def job_outcome(session: "PlatformSession", **options: Any) -> "JobWatch | Markdown":
    """The recorded RFT job's outcome (:func:`svgkit.rft.watch_job`), or a note when none is recorded.

    Args:
        session: From :func:`svgkit.rehearsal.open_platform`.
        options: Passed on to :func:`svgkit.rft.watch_job` (``progress``, ``timeout_s``, ...).
    """
    from .display import Markdown
    from .rft import load_job_record, watch_job

    if load_job_record(session) is None:
        where = "a rehearsal on the stand-in" if session.rehearsal else "Fireworks"
        return Markdown(f"No RFT job is recorded for {where}: run notebook 04 first (its launch cell records the job "
                        "it starts), then rerun this cell.")
    return watch_job(session, **options)


def miniature_comparison(run: "MiniRftRun") -> "BeforeAfter":
    """:func:`svgkit.analysis.compare` on a miniature run: the starting policy's answers against the final one's.

    Both are scored by the evaluator's reward (guards on); categories are the bundled prompts' own.
    """
    from .analysis import compare
    from .dataset import load_bundled_prompts

    categories = {f"row_{p.index}": p.category or "" for p in load_bundled_prompts()}
    return compare(run.scored_answers("start"), run.scored_answers("final"), source=MINIATURE_SOURCE,
                   categories=categories)


def job_training_log(watch: "JobWatch", *, run: str | None = None) -> TrainingLog | None:
    """The reward curve a job watch read (W&B history, or the job's points) as a training table.

    ``None`` when the watch has no curve (no metrics source, nothing logged yet, or a rehearsal).
    """
    series = watch.rewards
    if series is None or not series.points:
        return None
    return log_from_points(series.points, run=run or watch.job.id, source=series.source)


@dataclass(frozen=True, repr=False)
class HoldoutPlan(MarkdownView):
    """What sampling the holdout from both models would be and cost; nothing is sent.

    Attributes:
        rows: The holdout rows (notebook 01's ``holdout.jsonl``).
        samples: Answers per prompt from each model.
        base: How the base model is served.
        tuned: How the tuned model is served.
        estimates: One cost estimate per model (generation and judge).
        ready: Whether both models answer now (live, deployments READY or serverless).
        message: What happens next, or why nothing can.
    """

    rows: tuple[Any, ...]
    samples: int
    base: "ServedModel"
    tuned: "ServedModel"
    estimates: tuple[CostEstimate, CostEstimate]
    ready: bool
    message: str

    def _repr_markdown_(self) -> str:
        lines = [self.message, "",
                 "| model | how it is served | answers | generation | judge |", "|---|---|---:|---:|---:|"]
        for served, est in zip((self.base, self.tuned), self.estimates, strict=True):
            lines.append(f"| {served.purpose}: `{served.model}` | {served.how} | {est.generation_calls:,} | "
                         f"{_usd(est.generation_usd)} | {_usd(est.judge_usd)} |")
        hourly = [s.plan.usd_per_hour for s in (self.base, self.tuned) if s.plan is not None and s.how == "deployment"]
        if hourly and not any(s.rehearsal for s in (self.base, self.tuned)):
            total = None if None in hourly else sum(h for h in hourly if h is not None)
            lines += ["", f"Plus the deployments, billed per GPU-second while they are up: {_usd(total)} per hour "
                      "together. Generation on a deployment is billed by its GPU time; the generation column shows "
                      "what the same tokens would cost serverless, where a price is known."]
        return "\n".join(lines)


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:,.2f}"


def plan_holdout(rows: Sequence[Any], *, base: "ServedModel", tuned: "ServedModel",
                 samples: int = ANALYSIS.holdout_samples, settings: Settings | None = None) -> HoldoutPlan:
    """What sampling ``samples`` answers per holdout prompt from both models would cost.

    Args:
        rows: The holdout rows.
        base: From :func:`svgkit.deploy.serve_base_model`.
        tuned: From :func:`svgkit.deploy.serve_model`.
        samples: Answers per prompt from each model.
        settings: Mode, keys and opt-in (default from the environment).
    """
    settings = settings or get_settings()
    judge_model = settings.judge_model if settings.mode("judge") == "live" else None
    estimates = tuple(estimate_cost(len(rows), samples=samples, model=s.model, judge_model=judge_model)
                      for s in (base, tuned))
    ready = base.answers and tuned.answers
    if ready:
        message = (f"Both models answer: {len(rows)} holdout prompts x {samples} samples from each, "
                   "scored like notebook 02. Set SAMPLE_HOLDOUT = True to run it (resumable).")
    elif base.rehearsal or tuned.rehearsal:
        message = HOLDOUT_NEEDS_LIVE
    else:
        waiting = [s.purpose for s in (base, tuned) if not s.answers]
        message = (f"Not yet: the {' and the '.join(waiting)} model does not answer yet (see the serving cells). "
                   "Serve both, then rerun this cell.")
    return HoldoutPlan(tuple(rows), samples, base, tuned, estimates, ready, message)  # type: ignore[arg-type]


@dataclass(frozen=True, repr=False)
class HoldoutRun(MarkdownView):
    """The scored holdout answers of both models, or why there are none.

    Attributes:
        ran: Whether answers were sampled.
        before: The base model's scored answers.
        after: The tuned model's.
        message: What happened.
    """

    ran: bool
    before: tuple["ScoredAnswer", ...]
    after: tuple["ScoredAnswer", ...]
    message: str

    def _repr_markdown_(self) -> str:
        return self.message


def sample_holdout(plan: HoldoutPlan, *, allow: bool, settings: Settings | None = None,
                   judge: "Judge | None" = None, temperature: float = ANALYSIS.holdout_temperature,
                   max_tokens: int = ANALYSIS.holdout_max_tokens, progress: bool = True) -> HoldoutRun:
    """Sample and score the holdout from both models (``allow=True`` and both served live).

    Answers are stored under ``outputs/holdout/`` (one file per model), so a rerun after an
    interruption asks only for what is missing. Nothing is sent without ``allow``, and never to
    bundled examples: when the generation step is offline this returns without answers.
    """
    from .scoring import score_generations

    settings = settings or get_settings()
    if not plan.ready:
        return HoldoutRun(False, (), (), plan.message)
    if not allow:
        return HoldoutRun(False, (), (), "Nothing sent: set SAMPLE_HOLDOUT = True in this cell (costs above).")
    if generation_mode(base_url=plan.tuned.base_url, settings=settings) != "live":
        return HoldoutRun(False, (), (), "Nothing sent: the generate step is offline (ALLOW_SPEND = True and "
                                         "FIREWORKS_API_KEY are needed), and bundled examples are no holdout.")
    scored = []
    for served in (plan.base, plan.tuned):
        gens = generate(plan.rows, model=served.inference_model or served.model, n=plan.samples,
                        temperature=temperature, max_tokens=max_tokens, base_url=served.base_url,
                        out_path=output_path(f"{ANALYSIS.holdout_dir}/{served.purpose}.jsonl"),
                        settings=settings, progress=progress)
        scored.append(tuple(score_generations(gens, plan.rows, judge=judge, progress=progress)))
    return HoldoutRun(True, scored[0], scored[1],
                      f"Sampled and scored {len(scored[0])} answers from the base model and {len(scored[1])} from "
                      "the tuned model on the holdout.")
