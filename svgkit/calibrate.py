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

Labels only mean something for the picture they were made on. Each bundled example stores the
sha256 of the PNG it was labelled on; :func:`label_drift` renders every example again and lists
those whose picture changed (``python -m svgkit.calibrate --relabel-check``). After looking at
them again and relabelling, :func:`refresh_label_hashes` stores the new hashes
(``python -m svgkit.calibrate --refresh-render-hashes``). A small probe picture
(:func:`render_setup_sha256`) tells a changed pipeline from a machine that draws text with other
fonts or another cairo, where the hashes cannot be compared at all.
"""

import asyncio
import hashlib
import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ._aio import run_sync
from .config import JUDGE
from .judge import Judge, JudgeUsage, requirement_kind
from .render import render_png
from .reward import ascore_response
from .svg import extract_svg

__all__ = [
    "AgreementStats",
    "CalibrationReport",
    "ExampleScore",
    "LabelDrift",
    "LabelledExample",
    "agreement",
    "calibrate",
    "cohen_kappa",
    "join_examples",
    "label_drift",
    "refresh_label_hashes",
    "render_setup_sha256",
    "render_sha256",
    "stored_render_setup_sha256",
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


# --------------------------------------------------------------------------- labels vs renders
#: Text in every family and weight the bundled examples use, plus a gradient, a curve and
#: transparency: its PNG changes when fonts, cairo or the PNG encoder differ.
_PROBE_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="320" height="150" viewBox="0 0 320 150">'
    '<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#1d4ed8"/>'
    '<stop offset="1" stop-color="#f59e0b"/></linearGradient></defs>'
    '<rect x="4" y="4" width="312" height="142" rx="12" fill="url(#g)" opacity="0.35"/>'
    '<path d="M10 140 C 80 60, 160 160, 310 90" fill="none" stroke="#b91c1c" stroke-width="3"/>'
    '<text x="12" y="30" font-family="sans-serif" font-size="18">Sans Tea &amp; Cakes 0123</text>'
    '<text x="12" y="56" font-family="sans-serif" font-size="18" font-weight="bold">Bold Fernly 18:42</text>'
    '<text x="12" y="82" font-family="serif" font-size="18">Serif Salt &amp; Crumb</text>'
    '<text x="12" y="108" font-family="monospace" font-size="16">mono W1 12% LIFTOFF</text>'
    '<text x="12" y="132" font-family="Arial, Helvetica" font-size="14" font-style="italic">Arial 24° L:18°</text>'
    '</svg>'
)
_SETUP_FILE = "label_renders.json"


def _data_path(name: str) -> Path:
    return Path(str(resources.files("svgkit").joinpath("data", name)))


def render_sha256(response: str) -> str | None:
    """sha256 of the PNG the reward draws for an answer, or ``None`` when it draws nothing.

    The path is the reward's (:func:`svgkit.svg.extract_svg`, then
    :func:`svgkit.render.render_png` with its defaults), so this is the picture a judge sees.
    No SVG, a truncated one, a rejected one or a failed render give ``None``.
    """
    extraction = extract_svg(response or "")
    if not extraction.svg or extraction.truncated:
        return None
    result = render_png(extraction.svg)
    return hashlib.sha256(result.png).hexdigest() if result.ok and result.png else None


def render_setup_sha256() -> str:
    """sha256 of a small probe picture drawn on this machine (fonts, cairo, PNG encoder).

    Compare it with :func:`stored_render_setup_sha256`: when they differ, this machine draws
    text differently from the one the labels were made on, and the stored hashes cannot be
    checked here.

    Raises:
        RuntimeError: The probe could not be drawn (cairo missing, say).
    """
    result = render_png(_PROBE_SVG)
    if not result.ok or not result.png:
        raise RuntimeError(f"the render probe could not be drawn: {result.error}; check that cairo is installed "
                           "(make setup installs it)")
    return hashlib.sha256(result.png).hexdigest()


def stored_render_setup_sha256() -> str | None:
    """The probe hash of the machine the bundled labels were made on (``None`` if not stored)."""
    path = _data_path(_SETUP_FILE)
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get("probe_png_sha256")


@dataclass(frozen=True)
class LabelDrift:
    """A labelled example whose render is not the picture its labels were made on.

    Attributes:
        example_id: The example.
        labelled_png_sha256: Hash stored with its labels (``None``: labelled as drawing nothing).
        current_png_sha256: Hash of today's render (``None``: it draws nothing now).
    """

    example_id: str
    labelled_png_sha256: str | None
    current_png_sha256: str | None

    def __str__(self) -> str:
        def short(h: str | None) -> str:
            return h[:12] if h else "nothing drawn"

        return f"{self.example_id} (labelled on {short(self.labelled_png_sha256)}, " \
               f"now {short(self.current_png_sha256)})"


def label_drift(examples: Iterable[Any] | None = None) -> tuple[LabelDrift, ...]:
    """Render labelled examples again and list those whose PNG changed since they were labelled.

    Args:
        examples: Records with ``example_id``, ``response`` and ``labelled_png_sha256``
            (mappings or objects); the bundled examples by default.

    Returns:
        One :class:`LabelDrift` per example whose labels must be looked at again, in input order
        (empty when every label still describes today's render).
    """
    if examples is None:
        from .dataset import load_examples

        examples = load_examples()

    def get(rec: Any, name: str) -> Any:
        return rec.get(name) if isinstance(rec, Mapping) else getattr(rec, name, None)

    out = []
    for ex in examples:
        stored, current = get(ex, "labelled_png_sha256"), render_sha256(str(get(ex, "response") or ""))
        if stored != current:
            out.append(LabelDrift(str(get(ex, "example_id")), stored, current))
    return tuple(out)


def refresh_label_hashes(path: Path | str | None = None) -> list[str]:
    """Store today's render hashes with the labels: run this only after relabelling.

    Rewrites ``labelled_png_sha256`` in an examples file (the bundled
    ``svgkit/data/examples.jsonl`` by default, which needs an editable install or a clone) and,
    for the bundled file, the probe hash of this machine beside it. Every other field and the
    line order stay as they are.

    Args:
        path: The examples JSONL file to update.

    Returns:
        The ids of the examples whose stored hash changed.
    """
    target = Path(path) if path is not None else _data_path("examples.jsonl")
    rows = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines() if line.strip()]
    changed = []
    for row in rows:
        digest = render_sha256(row["response"])
        if row.get("labelled_png_sha256", ...) != digest:
            changed.append(row["example_id"])
        row["labelled_png_sha256"] = digest
    target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    if path is None:
        setup = {"probe_png_sha256": render_setup_sha256(),
                 "about": "sha256 of svgkit.calibrate's probe picture on the machine the labels were made on; "
                          "written by python -m svgkit.calibrate --refresh-render-hashes"}
        _data_path(_SETUP_FILE).write_text(json.dumps(setup, indent=1) + "\n", encoding="utf-8")
    return changed


def _relabel_check(png_dir: str | None, out: Any) -> int:
    from .dataset import load_examples

    examples = {e.example_id: e for e in load_examples()}
    if render_setup_sha256() != stored_render_setup_sha256():
        out.write("warning: this machine draws the render probe differently from the machine the labels were "
                  "made on (other fonts or cairo), so text-bearing examples differ here whatever the pipeline "
                  "does; check on the reference setup (make setup on Debian 12 with fonts-liberation, as CI)\n")
    drift = label_drift(examples.values())
    if not drift:
        out.write(f"labels current: all {len(examples)} examples render as they did when labelled\n")
        return 0
    out.write(f"{len(drift)} example(s) render differently from the picture their labels were made on:\n")
    for d in drift:
        out.write(f"  {d}\n")
    if png_dir:
        folder = Path(png_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for d in drift:
            extraction = extract_svg(examples[d.example_id].response)
            result = render_png(extraction.svg) if extraction.svg and not extraction.truncated else None
            if result is not None and result.ok and result.png:
                (folder / f"{d.example_id}.png").write_bytes(result.png)
        out.write(f"their current renders are in {folder}\n")
    out.write("look at each one next to its prompt's requirements, relabel in svgkit/data/examples.jsonl by the "
              "rules in svgkit/data/README.md (record each change in label_notes), then run "
              "python -m svgkit.calibrate --refresh-render-hashes and recompute the calibration figures\n")
    return 1


def _main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - exercised by hand
    """``python -m svgkit.calibrate [--svgbench questions.json]``: rule-judge figures on the bundled labels.

    ``--relabel-check [--png-dir DIR]`` lists the examples whose render changed since they were
    labelled (exit status 1 if any); ``--refresh-render-hashes`` stores today's hashes after
    relabelling.
    """
    import argparse
    import sys

    from .dataset import load_bundled_prompts, load_examples
    from .judge import RuleJudge, rule_coverage

    parser = argparse.ArgumentParser(prog="python -m svgkit.calibrate", description=_main.__doc__)
    parser.add_argument("--svgbench", help="SVGBench questions.json, to report the rule judge's coverage on it")
    parser.add_argument("--relabel-check", action="store_true",
                        help="list the examples whose render changed since they were labelled (exit 1 if any)")
    parser.add_argument("--png-dir", help="with --relabel-check: write the changed examples' current renders here")
    parser.add_argument("--refresh-render-hashes", action="store_true",
                        help="after relabelling: store today's render hashes in svgkit/data/examples.jsonl")
    args = parser.parse_args(argv)
    if args.relabel_check:
        return _relabel_check(args.png_dir, sys.stdout)
    if args.refresh_render_hashes:
        changed = refresh_label_hashes()
        sys.stdout.write(f"stored render hashes; {len(changed)} changed: {', '.join(changed) or 'none'}\n")
        return 0
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
