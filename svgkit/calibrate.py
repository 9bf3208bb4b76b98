"""How far to trust a judge: compare it with hand-made per-requirement labels.

:func:`calibrate` runs any judge through the same pipeline as the reward
(:func:`svgkit.reward.ascore_response`: extract, sanitise, render, hack guards, judge) on
labelled example answers and reports accuracy, Cohen's kappa and a confusion matrix, per
category and per requirement type (:func:`svgkit.judge.requirement_kind`), plus the error of
the score of each answer.

It takes plain records, so it does not depend on how they were loaded::

    records = [{"example_id": "sc01-a", "category": "scene", "requirements": [...],
                "response": "...", "labels": [True, False, ...]}]
    report = calibrate(RuleJudge(), records)
    report.accuracy, report.kappa, report.confusion

:func:`join_examples` builds such records from prompt and example objects (or dicts).
"""

import asyncio
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._aio import run_sync
from .config import JUDGE
from .judge import Judge, JudgeUsage, requirement_kind
from .reward import ascore_response

__all__ = [
    "AgreementStats",
    "CalibrationReport",
    "ExampleScore",
    "LabelledExample",
    "agreement",
    "calibrate",
    "cohen_kappa",
    "join_examples",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledExample:
    """One answer with a true/false label per requirement.

    Attributes:
        example_id: Identifier shown in reports.
        requirements: The prompt's requirements.
        response: The full answer text.
        labels: One label per requirement (``True``: fulfilled in the picture).
        category: Prompt category (``scene``, ``ui``, ...), if known.
        prompt: The task prompt, if known.
    """

    example_id: str
    requirements: tuple[str, ...]
    response: str
    labels: tuple[bool, ...]
    category: str | None = None
    prompt: str | None = None

    @classmethod
    def coerce(cls, record: Any, *, position: int = 0) -> "LabelledExample":
        """Build from a mapping or an object with the same field names.

        Raises:
            ValueError: A field is missing, there are no requirements, or labels and
                requirements differ in length.
        """
        if isinstance(record, cls):
            return record

        def get(name: str, default: Any = ...) -> Any:
            value = record.get(name, default) if isinstance(record, Mapping) else getattr(record, name, default)
            if value is ...:
                raise ValueError(f"labelled example #{position} has no {name!r}: give requirements, response "
                                 "and labels (and optionally example_id, category, prompt)")
            return value

        reqs = tuple(str(r) for r in get("requirements"))
        labels = tuple(bool(x) for x in get("labels"))
        ex_id = str(get("example_id", None) or f"example-{position}")
        if not reqs:
            raise ValueError(f"labelled example {ex_id} has no requirements: give at least one")
        if len(reqs) != len(labels):
            raise ValueError(f"labelled example {ex_id}: {len(labels)} labels for {len(reqs)} requirements; "
                             "give one label per requirement")
        return cls(ex_id, reqs, str(get("response")), labels, get("category", None), get("prompt", None))


def join_examples(prompts: Iterable[Any], examples: Iterable[Any]) -> list[LabelledExample]:
    """Join prompt records (``id, category, prompt, requirements``) with example records
    (``example_id, prompt_id, response, labels``) into :class:`LabelledExample` records.

    Raises:
        ValueError: An example names a prompt that is not given.
    """
    def get(rec: Any, name: str, default: Any = None) -> Any:
        return rec.get(name, default) if isinstance(rec, Mapping) else getattr(rec, name, default)

    by_id = {str(get(p, "id")): p for p in prompts}
    out = []
    for i, ex in enumerate(examples):
        pid = str(get(ex, "prompt_id"))
        if pid not in by_id:
            raise ValueError(f"example {get(ex, 'example_id')} refers to prompt {pid!r}, which was not given")
        p = by_id[pid]
        out.append(LabelledExample.coerce({
            "example_id": get(ex, "example_id"), "requirements": get(p, "requirements"),
            "response": get(ex, "response"), "labels": get(ex, "labels"),
            "category": get(p, "category"), "prompt": get(p, "prompt")}, position=i))
    return out


# --------------------------------------------------------------------------- statistics
def cohen_kappa(tp: int, fp: int, fn: int, tn: int) -> float:
    """Cohen's kappa of a 2x2 confusion matrix (1 when both raters are constant and agree)."""
    n = tp + fp + fn + tn
    if n == 0:
        return 0.0
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    if math.isclose(pe, 1.0):
        return 1.0 if math.isclose(po, 1.0) else 0.0
    return (po - pe) / (1 - pe)


@dataclass(frozen=True)
class AgreementStats:
    """Agreement of predictions with labels.

    Attributes:
        n: Requirements compared.
        tp: Judge fulfilled, label fulfilled.
        fp: Judge fulfilled, label not.
        fn: Judge not, label fulfilled.
        tn: Both not.
        decided: Requirements the judge decided (the rest were undecided, predicted not fulfilled).
        decided_correct: Correct among the decided.
    """

    n: int
    tp: int
    fp: int
    fn: int
    tn: int
    decided: int
    decided_correct: int

    @property
    def accuracy(self) -> float:
        """Share of predictions equal to the label."""
        return (self.tp + self.tn) / self.n if self.n else 0.0

    @property
    def kappa(self) -> float:
        """Cohen's kappa."""
        return cohen_kappa(self.tp, self.fp, self.fn, self.tn)

    @property
    def confusion(self) -> dict[str, int]:
        """``{"tp", "fp", "fn", "tn"}`` (judge x label)."""
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}

    @property
    def coverage(self) -> float:
        """Share the judge decided."""
        return self.decided / self.n if self.n else 0.0

    @property
    def decided_accuracy(self) -> float:
        """Accuracy on the decided requirements only."""
        return self.decided_correct / self.decided if self.decided else 0.0


def agreement(pairs: Iterable[tuple[bool, bool, bool]]) -> AgreementStats:
    """Stats of ``(predicted, label, decided)`` triples."""
    tp = fp = fn = tn = dec = dec_ok = 0
    for pred, label, decided in pairs:
        if pred and label:
            tp += 1
        elif pred:
            fp += 1
        elif label:
            fn += 1
        else:
            tn += 1
        if decided:
            dec += 1
            dec_ok += int(pred == label)
    return AgreementStats(tp + fp + fn + tn, tp, fp, fn, tn, dec, dec_ok)


@dataclass(frozen=True)
class ExampleScore:
    """The judge's score of one answer next to the score its labels give.

    Attributes:
        example_id: The example.
        category: Its category.
        predicted: Reward score with this judge.
        labelled: Share of requirements labelled fulfilled.
        valid: Whether the reward was valid (``False``: render or judge failure).
        reason: The reward's reason.
    """

    example_id: str
    category: str | None
    predicted: float
    labelled: float
    valid: bool
    reason: str

    @property
    def error(self) -> float:
        """``predicted - labelled``."""
        return self.predicted - self.labelled


@dataclass(frozen=True)
class CalibrationReport:
    """What :func:`calibrate` found.

    Attributes:
        judge: The judge's name.
        overall: Agreement over every requirement of every valid, itemised answer.
        by_category: Agreement per prompt category.
        by_kind: Agreement per requirement type.
        examples: Score of each answer, judge vs labels.
        failures: ``(example_id, reason)`` of answers whose reward was invalid or could not
            be computed (an exception, reported as ``"error: ..."``); left out of the agreement
            figures.
        usage: The judge's usage during the run (calls, tokens, dollars).
    """

    judge: str
    overall: AgreementStats
    by_category: dict[str, AgreementStats]
    by_kind: dict[str, AgreementStats]
    examples: tuple[ExampleScore, ...]
    failures: tuple[tuple[str, str], ...]
    usage: JudgeUsage

    @property
    def accuracy(self) -> float:
        """Overall accuracy."""
        return self.overall.accuracy

    @property
    def kappa(self) -> float:
        """Overall Cohen's kappa."""
        return self.overall.kappa

    @property
    def confusion(self) -> dict[str, int]:
        """Overall confusion matrix."""
        return self.overall.confusion

    @property
    def score_mae(self) -> float:
        """Mean absolute error of the answer scores (valid answers)."""
        errs = [abs(e.error) for e in self.examples if e.valid]
        return sum(errs) / len(errs) if errs else 0.0

    @property
    def score_bias(self) -> float:
        """Mean signed error of the answer scores (positive: the judge is too generous)."""
        errs = [e.error for e in self.examples if e.valid]
        return sum(errs) / len(errs) if errs else 0.0

    def rows(self) -> list[dict[str, Any]]:
        """One row per slice (overall, each category, each kind), for a table."""
        def row(scope: str, name: str, s: AgreementStats) -> dict[str, Any]:
            return {"scope": scope, "name": name, "n": s.n, "accuracy": round(s.accuracy, 3),
                    "kappa": round(s.kappa, 3), "coverage": round(s.coverage, 3), **s.confusion}

        out = [row("overall", "all", self.overall)]
        out += [row("category", k, v) for k, v in self.by_category.items()]
        out += [row("kind", k, v) for k, v in self.by_kind.items()]
        return out

    def summary(self) -> str:
        """A few lines for a notebook or a note."""
        o = self.overall
        return (f"{self.judge}: {o.n} requirements of {len(self.examples)} answers; accuracy {o.accuracy:.3f}, "
                f"kappa {o.kappa:.3f}, confusion {o.confusion}; decided {o.coverage:.0%} "
                f"(accuracy there {o.decided_accuracy:.3f}); score MAE {self.score_mae:.3f}, "
                f"bias {self.score_bias:+.3f}; {len(self.failures)} failed")


async def _acalibrate(judge: Judge, records: list[LabelledExample], concurrency: int) -> CalibrationReport:
    sem = asyncio.Semaphore(concurrency)
    before = judge.usage

    async def one(rec: LabelledExample) -> Any:
        async with sem:
            try:
                return await ascore_response(rec.response, rec.requirements, judge=judge, prompt=rec.prompt)
            except Exception as exc:  # noqa: BLE001 - one broken answer or judge bug must not lose the batch
                logger.warning("calibrate: example %s failed: %s: %s", rec.example_id, type(exc).__name__, exc,
                               exc_info=True)
                return exc

    results = await asyncio.gather(*(one(r) for r in records))
    triples: list[tuple[bool, bool, bool, str | None, str]] = []
    examples, failures = [], []
    for rec, res in zip(records, results, strict=True):
        labelled = sum(rec.labels) / len(rec.labels) if rec.labels else 0.0
        if isinstance(res, Exception):
            reason = f"error: {type(res).__name__}: {str(res)[:300]}"
            examples.append(ExampleScore(rec.example_id, rec.category, 0.0, labelled, False, reason))
            failures.append((rec.example_id, reason))
            continue
        examples.append(ExampleScore(rec.example_id, rec.category, float(res.score), labelled,
                                     bool(res.is_score_valid), res.reason or ""))
        if not res.is_score_valid:
            failures.append((rec.example_id, res.reason or ""))
            continue
        metrics = res.metrics or {}
        judged = any(k.startswith("requirement_") for k in metrics)
        if not judged and "judge" in metrics:
            continue  # count-only verdict: no per-requirement prediction
        for i, (text, label) in enumerate(zip(rec.requirements, rec.labels, strict=True)):
            m = metrics.get(f"requirement_{i + 1:02d}")
            # no SVG / blank / rejected: nothing drawn, every requirement decided unfulfilled
            pred, decided = (m.score >= 0.5, m.is_score_valid) if m is not None else (False, True)
            triples.append((pred, label, decided, rec.category, requirement_kind(text)))
    after = judge.usage
    cost = (None if after.cost_usd is None or before.cost_usd is None
            else after.cost_usd - before.cost_usd)
    usage = JudgeUsage(after.verdicts - before.verdicts, after.calls - before.calls,
                       after.cache_hits - before.cache_hits, after.failures - before.failures,
                       after.input_tokens - before.input_tokens, after.output_tokens - before.output_tokens, cost)
    cats = sorted({t[3] or "uncategorised" for t in triples})
    kinds = sorted({t[4] for t in triples})
    return CalibrationReport(
        judge=judge.name,
        overall=agreement((p, l_, d) for p, l_, d, _, _ in triples),
        by_category={c: agreement((p, l_, d) for p, l_, d, cc, _ in triples if (cc or "uncategorised") == c)
                     for c in cats},
        by_kind={k: agreement((p, l_, d) for p, l_, d, _, kk in triples if kk == k) for k in kinds},
        examples=tuple(examples),
        failures=tuple(failures),
        usage=usage,
    )


def calibrate(judge: Judge, labelled_examples: Sequence[Any], *,
              concurrency: int = JUDGE.concurrency) -> CalibrationReport:
    """Compare ``judge`` with per-requirement labels.

    Each answer goes through the reward pipeline (extract, sanitise, render, hack guards,
    judge), so the figures describe the reward as RFT would see it. An answer with no SVG or
    a blank picture predicts every requirement unfulfilled; undecided requirements count as
    predicted unfulfilled (and are reported through ``coverage``); answers whose reward is
    invalid, or whose scoring raised, are listed in ``failures`` and left out (one failing
    answer never loses the others).

    Args:
        judge: Any :class:`~svgkit.judge.Judge` (a live vision judge costs money: check
            its usage after a small run first).
        labelled_examples: Records with ``requirements``, ``response`` and ``labels`` (and
            optionally ``example_id``, ``category``, ``prompt``): mappings, objects or
            :class:`LabelledExample`.
        concurrency: Answers in flight at once.

    Raises:
        ValueError: No records, or a malformed record.
    """
    records = [LabelledExample.coerce(r, position=i) for i, r in enumerate(labelled_examples)]
    if not records:
        raise ValueError("no labelled examples given: pass records with requirements, response and labels")
    return run_sync(_acalibrate(judge, records, max(1, concurrency)))


def _main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - exercised by hand
    """``python -m svgkit.calibrate [--svgbench questions.json]``: rule-judge figures on the bundled labels."""
    import argparse
    import json
    import sys

    from .dataset import load_bundled_prompts, load_examples
    from .judge import RuleJudge, rule_coverage

    parser = argparse.ArgumentParser(prog="python -m svgkit.calibrate", description=_main.__doc__)
    parser.add_argument("--svgbench", help="SVGBench questions.json, to report the rule judge's coverage on it")
    args = parser.parse_args(argv)
    prompts = load_bundled_prompts()
    report = calibrate(RuleJudge(), join_examples(prompts, load_examples()))
    out = sys.stdout
    out.write(report.summary() + "\n")
    for row in report.rows():
        out.write(json.dumps(row) + "\n")
    lists = {"bundled": [p.requirements for p in prompts]}
    if args.svgbench:
        with open(args.svgbench, encoding="utf-8") as f:
            lists["svgbench"] = [q["requirements"] for q in json.load(f)]
    for name, reqs in lists.items():
        cov = rule_coverage(reqs)
        out.write(f"coverage {name}: {cov.total} requirements, decidable {cov.decidable_share:.1%}, "
                  f"decidable or refutable {cov.any_share:.1%}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main())
