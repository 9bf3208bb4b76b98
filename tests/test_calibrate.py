"""calibrate(): agreement figures against labels, for any judge."""

import json
from pathlib import Path

import pytest

from svgkit.calibrate import (
    CalibrationReport,
    LabelledExample,
    agreement,
    calibrate,
    cohen_kappa,
    join_examples,
)
from svgkit.judge import Judge, RequirementVerdict, RuleJudge, Verdict

DATA = Path(__file__).resolve().parents[1] / "svgkit" / "data"
SVG = ('```svg\n<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="200" height="100" '
       'fill="#fff"/><circle cx="100" cy="50" r="40" fill="red"/></svg>\n```')


class ScriptedJudge(Judge):
    """Says yes to requirements containing 'YES', no to 'NO', undecided otherwise."""

    name = "scripted"

    async def _evaluate(self, png, svg, requirements, prompt):
        items = []
        for i, r in enumerate(requirements):
            decided = "YES" in r or "NO" in r
            items.append(RequirementVerdict(i, r, "YES" in r, "scripted", decided=decided))
        return Verdict(judge=self.name, items=tuple(items), fulfilled=sum(i.fulfilled for i in items),
                       total=len(items), undecided=tuple(i.index for i in items if not i.decided))


def test_cohen_kappa_known_values():
    assert cohen_kappa(20, 5, 10, 15) == pytest.approx(0.4)
    assert cohen_kappa(10, 0, 0, 10) == 1.0
    assert cohen_kappa(5, 5, 5, 5) == pytest.approx(0.0)
    assert cohen_kappa(0, 0, 0, 7) == 1.0  # both constant and agreeing
    assert cohen_kappa(0, 0, 0, 0) == 0.0


def test_agreement_counts():
    s = agreement([(True, True, True), (True, False, True), (False, True, False), (False, False, True)])
    assert s.confusion == {"tp": 1, "fp": 1, "fn": 1, "tn": 1}
    assert s.accuracy == 0.5 and s.coverage == 0.75 and s.decided_accuracy == pytest.approx(2 / 3)


def test_calibrate_scripted_judge_exact_figures():
    records = [
        {"example_id": "a", "category": "scene", "response": SVG,
         "requirements": ["red circle YES", "blue square NO", "mood ?"], "labels": [True, False, True]},
        {"example_id": "b", "category": "ui", "response": SVG,
         "requirements": ["label 'Go' YES", "thing NO"], "labels": [False, True]},
        {"example_id": "c", "category": "ui", "response": "no picture at all",
         "requirements": ["anything YES"], "labels": [False]},
    ]
    report = calibrate(ScriptedJudge(), records)
    assert isinstance(report, CalibrationReport) and report.judge == "scripted"
    assert report.confusion == {"tp": 1, "fp": 1, "fn": 2, "tn": 2}
    assert report.accuracy == pytest.approx(3 / 6)
    assert report.overall.coverage == pytest.approx(5 / 6)
    assert report.by_category["scene"].n == 3 and report.by_category["ui"].n == 3
    assert report.by_category["ui"].confusion == {"tp": 0, "fp": 1, "fn": 1, "tn": 1}
    assert report.by_kind["text"].n == 1
    scores = {e.example_id: e for e in report.examples}
    assert scores["a"].predicted == pytest.approx(1 / 3) and scores["a"].labelled == pytest.approx(2 / 3)
    assert scores["c"].predicted == 0 and scores["c"].error == 0
    assert report.score_mae == pytest.approx((1 / 3 + 0 + 0) / 3)
    assert report.failures == ()
    assert report.usage.verdicts == 2  # the answer without SVG never reached the judge
    assert "accuracy 0.500" in report.summary() and report.rows()[0]["n"] == 6


class BrokenJudge(ScriptedJudge):
    """Raises (a judge bug, not an invalid verdict) on requirements containing 'BOOM'."""

    async def _evaluate(self, png, svg, requirements, prompt):
        if any("BOOM" in r for r in requirements):
            raise RuntimeError("judge bug")
        return await super()._evaluate(png, svg, requirements, prompt)


def test_an_exception_on_one_example_becomes_its_failure_entry():
    records = [
        {"example_id": "ok", "category": "scene", "response": SVG, "requirements": ["red YES", "blue NO"],
         "labels": [True, False]},
        {"example_id": "bad", "category": "scene", "response": SVG, "requirements": ["BOOM YES"],
         "labels": [True]},
    ]
    report = calibrate(BrokenJudge(), records, concurrency=1)
    assert report.failures == (("bad", "error: RuntimeError: judge bug"),)
    assert report.overall.n == 2 and report.accuracy == 1.0  # the other example still counts
    scores = {e.example_id: e for e in report.examples}
    assert scores["bad"].valid is False and scores["bad"].predicted == 0
    assert report.score_mae == 0  # invalid answers are left out
    assert report.usage.verdicts == 1


def test_calibrate_rejects_bad_records():
    with pytest.raises(ValueError, match="no labelled examples"):
        calibrate(ScriptedJudge(), [])
    with pytest.raises(ValueError, match="has no 'labels'"):
        calibrate(ScriptedJudge(), [{"requirements": ["x"], "response": "y"}])
    with pytest.raises(ValueError, match="has no requirements"):
        calibrate(ScriptedJudge(), [{"requirements": [], "response": "y", "labels": []}])
    with pytest.raises(ValueError, match="one label per requirement"):
        LabelledExample.coerce({"requirements": ["x", "y"], "response": "", "labels": [True]})


def test_join_examples():
    prompts = [{"id": "p1", "category": "icon", "prompt": "Draw a star.", "requirements": ["a", "b"]}]
    examples = [{"example_id": "p1-a", "prompt_id": "p1", "response": "r", "labels": [True, False]}]
    (rec,) = join_examples(prompts, examples)
    assert rec == LabelledExample("p1-a", ("a", "b"), "r", (True, False), "icon", "Draw a star.")
    with pytest.raises(ValueError, match="not given"):
        join_examples([], examples)


def test_rule_judge_on_bundled_labels():
    prompts = [json.loads(x) for x in (DATA / "prompts.jsonl").read_text().splitlines() if x.strip()]
    examples = [json.loads(x) for x in (DATA / "examples.jsonl").read_text().splitlines() if x.strip()]
    report = calibrate(RuleJudge(), join_examples(prompts, examples))
    assert report.failures == ()
    assert report.overall.n == sum(len(e["labels"]) for e in examples)
    # Regression bounds just under today's figures (accuracy 0.647, kappa 0.350, coverage 0.561,
    # decided accuracy 0.940, text 0.930 on main; the reward-safety guards give 0.629, 0.330, 0.551,
    # 0.955 and 0.884): a rule change that costs more than about 0.02 fails here.
    assert report.accuracy >= 0.62 and report.kappa >= 0.32
    assert report.overall.coverage >= 0.54
    assert report.overall.decided_accuracy >= 0.93  # what it decides, it mostly gets right
    assert report.by_kind["text"].accuracy >= 0.87
    assert report.score_bias < 0  # strict: undecided counts as unfulfilled
