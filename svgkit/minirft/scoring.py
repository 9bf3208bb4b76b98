"""Scoring the miniature's candidates with the real reward, once each.

Every candidate is scored the way the evaluator scores a rollout: as an Eval Protocol
``EvaluationRow`` through :func:`svgkit.evaluation.ascore_row`, which runs
:func:`svgkit.reward.ascore_response` (extract, sanitise, render, hack guards, judge). A
:class:`RewardCache` keeps each result by the SVG's content, so however often the policy
samples a candidate it is rendered and judged once.

Each score is kept twice (:class:`CandidateScore`): the reward as the evaluator gives it
(``reward``), and what the judge itself credited before the reward's written-text guard
overrode it (``unguarded``). The second is the reward "with the hack guards off", used only
by the reward-hacking demonstration (:attr:`svgkit.minirft.MiniRftConfig.guards`): it is the
judge's own count, so the guard that stops requirements pasted as text is the only thing
that differs. Guards that end scoring before the judge is asked (no SVG, blank picture)
apply in both.

Judges (:data:`JUDGES`): ``"rule"`` is the offline rule judge (:class:`svgkit.judge.RuleJudge`);
``"gullible"`` is :class:`GullibleJudge`, a demonstration stand-in for a careless vision judge.
"""

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from .._ep import EvaluateResult, EvaluationRow
from ..dataset import Prompt, to_eval_rows
from ..evaluation import ascore_row
from ..guards import written_requirements
from ..judge import Judge, JudgeCache, RequirementVerdict, RuleJudge, Verdict
from ..scoring import requirement_results
from .candidates import Candidate

__all__ = ["GULLIBLE_REASON", "JUDGES", "CandidateScore", "GullibleJudge", "JudgeName", "RewardCache", "candidate_row"]

#: The judges the miniature can train against.
JUDGES = ("rule", "gullible")
JudgeName = Literal["rule", "gullible"]

#: Reason a :class:`GullibleJudge` gives when it credits a requirement for its words alone.
GULLIBLE_REASON = "its words are written in the picture, which this gullible demonstration judge takes as drawn"


@dataclass(frozen=True)
class CandidateScore:
    """A candidate's reward, with and without the reward's written-text guard.

    Attributes:
        reward: The reward as the evaluator gives it (``fulfilled / total``).
        unguarded: The judge's own count before the written-text guard (the demonstration's
            "guards off"); equal to ``reward`` when the reward ended before asking the judge.
        valid: ``is_score_valid`` (an invalid score teaches nothing: it is left out of its group).
        fulfilled: Per requirement, fulfilled in ``reward``.
        fulfilled_unguarded: Per requirement, fulfilled in ``unguarded``.
        written: Indexes of requirements the guard found written out as text.
        reason: The reward's reason.
        result: The evaluator's full ``EvaluateResult`` (the guarded reward, its metrics and
            per-requirement verdicts), as :func:`svgkit.evaluation.ascore_row` returned it.
    """

    reward: float
    unguarded: float
    valid: bool
    fulfilled: tuple[bool, ...]
    fulfilled_unguarded: tuple[bool, ...]
    written: tuple[int, ...]
    reason: str
    result: EvaluateResult | None = field(default=None, repr=False, compare=False)

    def value(self, *, guards: bool = True) -> float:
        """The reward with the guards on (the default) or off (the demonstration)."""
        return self.reward if guards else self.unguarded

    def passes(self, *, guards: bool = True) -> tuple[bool, ...]:
        """Per requirement, whether it counts as fulfilled with the guards on or off."""
        return self.fulfilled if guards else self.fulfilled_unguarded


class _MemoryCache(JudgeCache):
    """A :class:`JudgeCache` held in memory (for one process; nothing written to disk)."""

    def __init__(self) -> None:  # no sqlite file
        self._verdicts: dict[str, Verdict] = {}

    def get(self, key: str) -> Verdict | None:
        return self._verdicts.get(key)

    def put(self, key: str, verdict: Verdict) -> None:
        if verdict.valid:
            self._verdicts[key] = verdict

    def __len__(self) -> int:
        return len(self._verdicts)

    def clear(self) -> None:
        self._verdicts.clear()


class GullibleJudge(Judge):
    """A DEMONSTRATION judge that is fooled by text: never use it to score anything real.

    It stands in for a careless vision judge (one without svgkit's system message) that reads
    a requirement written out in the picture and takes it as drawn. It asks ``inner`` (the
    rule judge by default) and then credits every requirement whose words the SVG's text
    spells out, found with the same test the reward's written-text guard uses
    (:func:`svgkit.guards.written_requirements`). So, by construction, the guard removes
    exactly what this judge is fooled by; a real judge's mistakes would not line up so neatly.

    Args:
        inner: The judge it defers to for everything else (default: a :class:`RuleJudge`).
    """

    name = "gullible-demo"
    uses_svg = True

    def __init__(self, inner: Judge | None = None) -> None:
        super().__init__(cache=None, prompt_version="gullible-demo-1")
        self.inner = inner or RuleJudge()

    async def _evaluate(self, png: bytes | None, svg: str | None, requirements: tuple[str, ...],
                        prompt: str | None) -> Verdict:
        verdict = await self.inner.ajudge(png, requirements, svg=svg, prompt=prompt)
        if not verdict.valid or not verdict.items:
            return verdict
        written, _ = written_requirements(svg, requirements, prompt=prompt)
        items = tuple(RequirementVerdict(i.index, i.text, True, GULLIBLE_REASON) if i.index in written else i
                      for i in verdict.items)
        undecided = tuple(i for i in verdict.undecided if i not in written)
        return Verdict(judge=self.name, items=items, fulfilled=sum(i.fulfilled for i in items),
                       total=verdict.total, undecided=undecided,
                       reasoning=f"{verdict.reasoning}; {len(written)} credited for being written out (gullible)")


class _Capture(Judge):
    """Passes the judging on to ``inner`` and keeps the verdict it returned (one per scoring)."""

    def __init__(self, inner: Judge) -> None:
        super().__init__(cache=None, prompt_version=inner.prompt_version)
        self.inner = inner
        self.name = inner.name
        self.uses_svg = inner.uses_svg
        self.verdict: Verdict | None = None

    async def _evaluate(self, png: bytes | None, svg: str | None, requirements: tuple[str, ...],
                        prompt: str | None) -> Verdict:
        self.verdict = await self.inner.ajudge(png, requirements, svg=svg, prompt=prompt)
        return self.verdict


def candidate_row(candidate: Candidate, prompt: Prompt) -> EvaluationRow:
    """The Eval Protocol row the evaluator would score for this candidate (prompt + answer)."""
    (row,) = to_eval_rows([prompt], extra_metadata=True)
    row["messages"].append({"role": "assistant", "content": candidate.response})
    row["input_metadata"]["row_id"] = candidate.id
    return EvaluationRow.model_validate(row)


def _score(result: EvaluateResult, verdict: Verdict | None, requirements: Sequence[str]) -> CandidateScore:
    fulfilled = tuple(r.fulfilled for r in requirement_results(result, requirements))
    metric = (result.metrics or {}).get("hack_text_only")
    written = tuple(int(i) for i in ((metric.data or {}).get("written") or ())) if metric is not None else ()
    if verdict is None or not verdict.valid:  # the reward ended before the judge (or the judge failed)
        return CandidateScore(float(result.score), float(result.score), bool(result.is_score_valid), fulfilled,
                              fulfilled, written, result.reason or "", result)
    if verdict.items:
        raw = tuple(bool(i.fulfilled) for i in sorted(verdict.items, key=lambda i: i.index))
    else:  # a count-only verdict says how many, not which
        raw = tuple([False] * len(requirements))
    unguarded = min(verdict.fulfilled, verdict.total) / len(requirements)
    return CandidateScore(float(result.score), float(unguarded), bool(result.is_score_valid), fulfilled, raw,
                          written, result.reason or "", result)


class RewardCache:
    """Rewards of candidates by SVG content and judge, computed once through the evaluator's path.

    One cache can serve several runs (a default run, then the hack demonstration): a candidate
    already scored under a judge is never scored again, and the rule judge's verdicts are kept
    in memory, so the gullible judge (which asks the rule judge first) reuses them.
    """

    def __init__(self) -> None:
        self._scores: dict[tuple[str, str], CandidateScore] = {}
        self._rule = RuleJudge(cache=_MemoryCache())
        self._judges: dict[str, Judge] = {"rule": self._rule, "gullible": GullibleJudge(self._rule)}
        self.scored = 0  # scorings actually run (cache misses)

    def __len__(self) -> int:
        return len(self._scores)

    @staticmethod
    def key(candidate: Candidate, prompt: Prompt, judge: str) -> tuple[str, str]:
        """The cache key: judge, and the SVG's content (the response when it has no SVG) with the requirements."""
        content = candidate.svg_sha256 or hashlib.sha256(candidate.response.encode()).hexdigest()
        reqs = hashlib.sha256(json.dumps([prompt.prompt, *prompt.requirements]).encode()).hexdigest()
        return judge, f"{content}:{reqs}"

    def get(self, candidate: Candidate, prompt: Prompt, judge: str) -> CandidateScore | None:
        """The cached score, or ``None`` when the candidate has not been scored under ``judge``."""
        return self._scores.get(self.key(candidate, prompt, judge))

    async def ascore(self, items: Sequence[tuple[Candidate, Prompt]], *, judge: JudgeName = "rule",
                     concurrency: int = 2, on_scored: Callable[[], None] | None = None) -> list[CandidateScore]:
        """Score candidates (cached ones are not scored again), in order.

        Args:
            items: ``(candidate, its prompt)`` pairs.
            judge: One of :data:`JUDGES`.
            concurrency: Candidates scored at once.
            on_scored: Called after each candidate actually scored (for progress).

        Raises:
            ValueError: ``judge`` is not one of :data:`JUDGES`.
        """
        if judge not in self._judges:
            raise ValueError(f"unknown judge {judge!r}: use one of {', '.join(JUDGES)}")
        sem = asyncio.Semaphore(max(1, concurrency))
        pending: dict[tuple[str, str], asyncio.Task[CandidateScore]] = {}

        async def one(candidate: Candidate, prompt: Prompt) -> CandidateScore:
            async with sem:
                capture = _Capture(self._judges[judge])
                result = await ascore_row(candidate_row(candidate, prompt), judge=capture)
                score = _score(result, capture.verdict, prompt.requirements)
            self._scores[self.key(candidate, prompt, judge)] = score
            self.scored += 1
            if on_scored is not None:
                on_scored()
            return score

        for candidate, prompt in items:
            k = self.key(candidate, prompt, judge)
            if k not in self._scores and k not in pending:
                pending[k] = asyncio.ensure_future(one(candidate, prompt))
        if pending:
            await asyncio.gather(*pending.values())
        return [self._scores[self.key(c, p, judge)] for c, p in items]
