"""Before paying for RFT: can GRPO learn anything from these prompts?

GRPO scores each of the n answers to a prompt against the others: the advantage of an answer
is its reward minus the group's mean (over the group's spread). A prompt whose n answers all
get the same reward (often all 0 for a small base model) has zero advantage everywhere and
teaches the policy nothing, however long the job runs.

:func:`check_learning_signal` samples n answers per training prompt from the base model (through
:func:`svgkit.generate.generate`, the same path as notebook 02), scores them with the reward
(:func:`svgkit.scoring.score_generations`), and reports the reward spread per prompt and the
share of prompts with none. Offline it runs the same check on the bundled example answers (2-3
hand-written answers per prompt, not base-model samples), and says so. :meth:`SignalCheck.keep_rows`
gives a training set of only the prompts with signal, as an option.
"""

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..config import MODELS, RFT, Secret, Settings, get_settings, output_path
from ..dataset import write_rows
from ..generate import BUNDLED_EXAMPLE, Generation, generate
from ..judge import Judge, default_judge
from ..plots import PlotFigure
from ..pricing import CostEstimate, estimate_cost
from ..scoring import ScoredAnswer, score_generations
from .spec import RftJobSpec
from .views import MarkdownView

__all__ = [
    "PromptSignal",
    "SignalCheck",
    "SignalStatus",
    "check_learning_signal",
    "estimate_signal_check",
    "signal_from_scores",
]

#: How a learning-signal check ended: checked, no access to the endpoint, or failed.
SignalStatus = Literal["ok", "no-access", "failed"]

#: Rewards closer than this count as equal (the reward is fulfilled / total, a multiple of 1/15 at worst).
_TIE = 1e-9


@dataclass(frozen=True)
class PromptSignal:
    """The rewards of one prompt's answers, and whether GRPO can learn from them.

    Attributes:
        row_id: The training row.
        prompt: Its prompt.
        rewards: Rewards of the answers with a valid score.
        invalid: Answers whose score is invalid (Eval Protocol drops them, so they teach nothing).
    """

    row_id: str
    prompt: str
    rewards: tuple[float, ...]
    invalid: int = 0

    @property
    def spread(self) -> float:
        """Highest minus lowest reward (0 with fewer than two valid answers)."""
        return max(self.rewards) - min(self.rewards) if len(self.rewards) >= 2 else 0.0

    @property
    def std(self) -> float:
        """Population standard deviation of the rewards (what GRPO divides by)."""
        return statistics.pstdev(self.rewards) if len(self.rewards) >= 2 else 0.0

    @property
    def mean(self) -> float:
        """Mean reward (0 without valid answers)."""
        return sum(self.rewards) / len(self.rewards) if self.rewards else 0.0

    @property
    def has_signal(self) -> bool:
        """At least two valid answers with different rewards: some advantage is not zero."""
        return self.spread > _TIE


@dataclass(frozen=True, repr=False)
class SignalCheck(MarkdownView):
    """The learning-signal check of a training set.

    Attributes:
        prompts: One entry per training row, in row order.
        source: ``live`` (sampled from ``model``) or ``bundled-example`` (hand-written answers).
        model: Who wrote the answers.
        judge: The judge that scored them.
        n: Answers asked for per prompt (offline: every bundled answer is used, 2-3).
        status: ``ok``; ``no-access`` (the account cannot call the model serverless); ``failed``.
        message: What the check means, or what to do.
    """

    prompts: tuple[PromptSignal, ...]
    source: Literal["live", "bundled-example"]
    model: str
    judge: str
    n: int
    status: SignalStatus = "ok"
    message: str = ""

    @property
    def with_signal(self) -> tuple[PromptSignal, ...]:
        """Prompts whose answers got different rewards."""
        return tuple(p for p in self.prompts if p.has_signal)

    @property
    def without_signal(self) -> tuple[PromptSignal, ...]:
        """Prompts with zero spread: GRPO learns nothing from them."""
        return tuple(p for p in self.prompts if not p.has_signal)

    @property
    def share_without_signal(self) -> float:
        """Share of prompts with zero spread (1.0 when there are none)."""
        return len(self.without_signal) / len(self.prompts) if self.prompts else 1.0

    @property
    def mean_reward(self) -> float:
        """Mean over every valid answer."""
        rewards = [r for p in self.prompts for r in p.rewards]
        return sum(rewards) / len(rewards) if rewards else 0.0

    @property
    def label(self) -> str:
        """Where the answers come from, for every figure and table of the check."""
        if self.source == BUNDLED_EXAMPLE:
            return ("offline: the bundled example answers (hand-written, 2-3 per prompt, not samples of the base "
                    f"model), scored by the {self.judge} judge")
        return f"live: {self.n} samples per prompt from {self.model}, scored by {self.judge}"

    def keep_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The rows whose prompt has signal (the optional filtered training set), in order."""
        keep = {p.row_id for p in self.with_signal}
        return [r for r in rows if _row_id(r) in keep]

    def write_rows_with_signal(self, rows: Sequence[Mapping[str, Any]], path: str | Path | None = None) -> Path:
        """Write :meth:`keep_rows` as JSONL (default ``outputs/rft/train_with_signal.jsonl``).

        Raises:
            ValueError: No prompt has signal (an empty training set would teach nothing either).
        """
        kept = self.keep_rows(rows)
        if not kept:
            raise ValueError("no prompt has any reward spread: there is nothing to train on; see the check's "
                             "message for what to try")
        return write_rows(kept, path or output_path(f"{RFT.state_dir}/train_with_signal.jsonl"))

    def summary(self) -> str:
        """Markdown: the share of prompts without signal and what it means."""
        if self.status != "ok":
            return f"**Learning-signal check not run ({self.status}).** {self.message}"
        total, none = len(self.prompts), len(self.without_signal)
        lines = [f"Learning signal ({self.label}):", "",
                 f"- **{none} of {total} prompts ({self.share_without_signal:.0%}) have zero reward spread**: "
                 "every answer scored the same, so GRPO's advantages are all zero there and the job learns "
                 "nothing from them;",
                 f"- {total - none} prompts have signal; mean reward {self.mean_reward:.3f}."]
        if self.message:
            lines += ["", self.message]
        return "\n".join(lines)

    def table(self, *, limit: int | None = None) -> str:
        """Markdown: per prompt, its rewards, spread and whether it has signal (lowest spread first)."""
        ordered = sorted(self.prompts, key=lambda p: (p.has_signal, p.spread, p.row_id))
        lines = ["| row | prompt | rewards | spread | signal |", "|---|---|---|---:|---|"]
        for p in ordered[:limit]:
            rewards = ", ".join(f"{r:.2f}" for r in p.rewards) or "none valid"
            if p.invalid:
                rewards += f" (+{p.invalid} invalid)"
            prompt = p.prompt if len(p.prompt) <= 60 else p.prompt[:59] + "…"
            lines.append(f"| {p.row_id} | {prompt.replace('|', '/')} | {rewards} | {p.spread:.2f} | "
                         f"{'yes' if p.has_signal else '**no**'} |")
        if limit is not None and len(ordered) > limit:
            lines.append(f"| … {len(ordered) - limit} more | | | | |")
        return "\n".join(lines)

    def _repr_markdown_(self) -> str:
        return self.summary()

    def figure(self) -> PlotFigure:
        """Every answer's reward, one column per prompt (sorted by mean), zero-spread prompts in red."""
        ordered = sorted(self.prompts, key=lambda p: (p.mean, p.spread))
        fig = PlotFigure(figsize=(max(6.0, 0.28 * len(ordered) + 2), 3.4), layout="constrained")
        ax = fig.subplots()
        for x, p in enumerate(ordered):
            colour = "#4C72B0" if p.has_signal else "#C44E52"
            if p.rewards:
                ax.vlines(x, min(p.rewards), max(p.rewards), color=colour, linewidth=2, alpha=0.5)
                ax.scatter([x] * len(p.rewards), p.rewards, color=colour, s=14, zorder=3)
        ax.set(ylim=(-0.05, 1.05), xlim=(-1, max(1, len(ordered))), ylabel="reward", xticks=[],
               xlabel=f"prompts, sorted by mean reward ({len(self.without_signal)} of {len(ordered)} in red: "
                      "zero spread)")
        what = "bundled example answers" if self.source == BUNDLED_EXAMPLE else f"{self.n} live samples each"
        ax.set_title(f"Reward spread per prompt ({what})", fontsize=10)
        return fig


def estimate_signal_check(rows: Sequence[Mapping[str, Any]], *, spec: RftJobSpec | None = None,
                          model: str | None = None, judge_model: str | None = MODELS.judge) -> CostEstimate:
    """What the live check costs: rows x n samples from the base model, one judge call each."""
    spec = spec or RftJobSpec()
    return estimate_cost(len(rows), samples=spec.n, model=model or spec.base_model, judge_model=judge_model)


def check_learning_signal(rows: Sequence[Mapping[str, Any]], *, spec: RftJobSpec | None = None,
                          settings: Settings | None = None, judge: Judge | None = None, model: str | None = None,
                          base_url: str | None = None, api_key: str | Secret | None = None,
                          out_path: str | Path | None = None, progress: bool = True) -> SignalCheck:
    """Sample ``spec.n`` answers per training prompt, score them, and measure the reward spread per prompt.

    Live (generation opted in and keyed, see :func:`svgkit.generate.generation_mode`) this samples
    from the base model the job will train, with the job's temperature and answer limit; answers
    are kept in ``out_path`` (default ``outputs/rft/signal_generations.jsonl``) so a rerun pays
    only for what is missing. Offline it scores the bundled example answers instead.

    Args:
        rows: The training rows (notebook 01's ``train.jsonl``).
        spec: The job spec (its base model, n, temperature and max_output_tokens are used).
        settings: Mode, keys and spending opt-in.
        judge: The judge (default :func:`svgkit.judge.default_judge`: the vision judge live).
        model: Sample from this model instead (an on-demand deployment of the base model, or
            another policy when the base model is not served; the result then says which).
        base_url: Another OpenAI-compatible endpoint for ``model``.
        api_key: Its key.
        out_path: Where the live answers are kept.
        progress: Show progress bars.

    Returns:
        The check. When the account cannot call the model serverless, its ``status`` is
        ``no-access`` and the message says how to proceed; nothing is raised for that.
    """
    spec = spec or RftJobSpec()
    settings = settings or get_settings()
    model = model or spec.base_model
    temperature = spec.temperature if spec.temperature is not None else RFT.service_temperature
    gens = generate(rows, model=model, n=spec.n, temperature=temperature, max_tokens=spec.max_output_tokens,
                    out_path=out_path or output_path(f"{RFT.state_dir}/signal_generations.jsonl"), base_url=base_url,
                    api_key=api_key, settings=settings, progress=progress)
    source: Literal["live", "bundled-example"] = (
        BUNDLED_EXAMPLE if gens and all(g.source == BUNDLED_EXAMPLE for g in gens) else "live")
    judge = judge or default_judge(settings)
    if source == "live":
        blocked = _no_access(gens, model)
        if blocked:
            return SignalCheck((), "live", model, judge.name, spec.n, "no-access", blocked)
    scored = score_generations(gens, rows, judge=judge, progress=progress)
    check = signal_from_scores(scored, rows, source=source, model=model if source == "live" else BUNDLED_EXAMPLE,
                               judge=judge.name, n=spec.n)
    if source == "live" and model != spec.base_model:
        note = (f"These answers come from {model}, not from the base model {spec.base_model}: read the spread "
                "as an approximation of what the job will see.")
        check = SignalCheck(check.prompts, check.source, check.model, check.judge, check.n, check.status,
                            (check.message + " " + note).strip())
    return check


def signal_from_scores(scored: Sequence[ScoredAnswer], rows: Sequence[Mapping[str, Any]], *,
                       source: Literal["live", "bundled-example"], model: str, judge: str, n: int) -> SignalCheck:
    """Group scored answers by training row and measure each group's spread.

    Rows without any answer are kept, with no rewards (no signal). Invalid scores are counted,
    not averaged: Eval Protocol drops them, so they teach nothing.
    """
    by_row: dict[str, list[ScoredAnswer]] = {}
    for answer in scored:
        by_row.setdefault(answer.row_id, []).append(answer)
    prompts = []
    for row in rows:
        rid = _row_id(row)
        answers = by_row.get(rid, [])
        info = (row.get("input_metadata") or {}).get("dataset_info") or {}
        valid = tuple(a.score for a in answers if a.result.is_score_valid)
        prompts.append(PromptSignal(rid, str(info.get("original_prompt") or ""), valid, len(answers) - len(valid)))
    check = SignalCheck(tuple(prompts), source, model, judge, n)
    share = check.share_without_signal
    if share >= 0.5:
        advice = (f"{share:.0%} of the prompts cannot teach anything as things stand. Before paying: try a higher "
                  "temperature or a larger n (more chances for a group to differ), keep only the prompts with "
                  "signal (below), or start from a stronger base model.")
    elif share > 0:
        advice = ("Training can learn from the prompts with signal; the others cost rollouts and judge calls "
                  "without teaching anything. Keeping only the prompts with signal is an option (below).")
    else:
        advice = "Every prompt has some spread: GRPO has something to learn from each."
    if source == BUNDLED_EXAMPLE:
        advice += (" Offline, 2-3 hand-written answers per prompt stand in for the n samples: the live check "
                   "(ALLOW_SPEND = True, with keys) samples the base model itself.")
    return SignalCheck(check.prompts, source, model, judge, n, "ok", advice)


def _row_id(row: Mapping[str, Any]) -> str:
    return str((row.get("input_metadata") or {}).get("row_id") or "")


def _no_access(gens: Sequence[Generation], model: str) -> str:
    """A message when every request failed because the account cannot call ``model`` serverless."""
    if not gens or any(g.ok for g in gens):
        return ""
    errors = [g.error or "" for g in gens]
    if not any(e.startswith(("HTTP 404", "HTTP 403")) or "not found" in e.lower() or "serverless" in e.lower()
               for e in errors):
        return ""
    return (f"The account cannot call {model} serverless ({errors[0][:160]}). To run this check, serve the base "
            "model on an on-demand deployment (the deployment helper of notebook 05, billed per GPU-second) and "
            "pass model= and base_url= of that deployment here; or pass model= for another serverless policy and "
            "read the spread as an approximation. The RFT job itself does not need serverless access.")
