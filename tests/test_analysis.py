"""svgkit.analysis and svgkit.report on inputs with known answers: the bootstrap's coverage, paired
means, pass rates and flips, validity and hack flags, rank correlation, galleries, and a report that
embeds its pictures and loads nothing from the network."""

import base64
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from svgkit import analysis, report
from svgkit._ep import EvaluateResult, MetricResult
from svgkit.judge import RuleJudge
from svgkit.reward import score_response
from svgkit.scoring import ScoredAnswer

REQS = ("The background of the whole canvas is white.", "A large red circle is drawn on the canvas.",
        "The text 'HELLO' appears at the top.")
RED = "```svg\n<svg xmlns='http://www.w3.org/2000/svg' width='200' height='200'>" \
      "<rect width='200' height='200' fill='white'/><circle cx='100' cy='100' r='60' fill='red'/></svg>\n```"


def _answer(row: str, fulfilled, *, sample=0, valid=True, response="synthetic", prompt=None) -> ScoredAnswer:
    """A scored answer whose requirement verdicts are given (True/False per requirement)."""
    metrics = {f"requirement_{i + 1:02d}": MetricResult(score=1.0 if f else 0.0, reason=f"{r} -> synthetic",
                                                        is_score_valid=True)
               for i, (r, f) in enumerate(zip(REQS, fulfilled, strict=True))}
    score = sum(fulfilled) / len(REQS)
    result = EvaluateResult(score=score, reason="synthetic", is_score_valid=valid, metrics=metrics)
    return ScoredAnswer(row, sample, prompt or f"Draw scene {row}.", REQS, response, "example", result)


def _scored(row: str, text: str | None, sample: int = 0) -> ScoredAnswer:
    result = (EvaluateResult(score=0.0, reason="generation failed: boom", is_score_valid=False) if text is None
              else score_response(text, list(REQS), judge=RuleJudge(), prompt="Draw a red circle."))
    return ScoredAnswer(row, sample, "Draw a red circle.", REQS, text, "live", result)


# --------------------------------------------------------------------------- the bootstrap
def test_the_bootstrap_interval_covers_a_known_difference_at_about_its_nominal_rate():
    rng = np.random.default_rng(12345)
    true_difference, trials = 0.10, 400
    covered = 0
    for trial in range(trials):
        diffs = rng.normal(true_difference, 0.2, size=40)
        interval = analysis.bootstrap_mean_interval(diffs, resamples=2000, seed=trial)
        covered += interval.covers(true_difference)
    rate = covered / trials
    # 95% nominal; the percentile bootstrap runs a little under it at n=40 (binomial sd ~1.1 pp)
    assert 0.91 <= rate <= 0.98, rate


def test_the_bootstrap_is_deterministic_narrows_with_data_and_honours_the_confidence():
    rng = np.random.default_rng(7)
    small, large = rng.normal(0, 1, 20), rng.normal(0, 1, 500)
    a = analysis.bootstrap_mean_interval(small, seed=3)
    assert a == analysis.bootstrap_mean_interval(small, seed=3)
    assert a.estimate == pytest.approx(small.mean()) and a.low < a.estimate < a.high and a.n == 20
    b = analysis.bootstrap_mean_interval(large, seed=3)
    assert (b.high - b.low) < (a.high - a.low) / 3
    narrow = analysis.bootstrap_mean_interval(small, confidence=0.5, seed=3)
    assert a.low < narrow.low < narrow.high < a.high
    one = analysis.bootstrap_mean_interval([0.25])
    assert (one.low, one.high) == (0.25, 0.25)
    with pytest.raises(ValueError, match="no prompt"):
        analysis.bootstrap_mean_interval([])
    with pytest.raises(ValueError, match="confidence"):
        analysis.bootstrap_mean_interval([1.0, 2.0], confidence=95)


def test_a_clear_gain_excludes_zero_and_no_change_does_not():
    gain = analysis.bootstrap_mean_interval([0.3, 0.4, 0.2, 0.35, 0.3, 0.25, 0.4, 0.3])
    assert gain.excludes_zero and gain.low > 0
    noise = analysis.bootstrap_mean_interval([0.1, -0.1, 0.2, -0.2, 0.05, -0.05])
    assert not noise.excludes_zero and noise.covers(0.0)


# --------------------------------------------------------------------------- paired scores
def test_pairs_average_samples_per_prompt_leave_out_invalid_and_unpaired_prompts():
    before = [_answer("p1", (0, 0, 0)), _answer("p1", (1, 1, 1), sample=1),          # mean 0.5
              _answer("p2", (1, 0, 0)),                                              # 1/3
              _answer("p3", (1, 1, 1)), _answer("p4", (0, 0, 0))]
    after = [_answer("p1", (1, 1, 1)), _answer("p1", (1, 1, 1), sample=1),           # 1.0
             _answer("p2", (1, 0, 0)), _answer("p2", (0, 0, 0), sample=1, valid=False),  # invalid left out
             _answer("p3", (0, 0, 0), valid=False)]                                  # p3: no valid after
    paired = analysis.paired_scores(before, after, source="synthetic", resamples=500)
    assert [p.row_id for p in paired.pairs] == ["p1", "p2"]
    assert set(paired.unpaired) == {"p3", "p4"}
    p1, p2 = paired.pairs
    assert (p1.before, p1.after, p1.samples_before) == (0.5, 1.0, 2)
    assert p2.difference == pytest.approx(0.0) and p2.samples_after == 1
    assert paired.interval.estimate == pytest.approx(0.25)
    assert paired.counts == (1, 1, 0)
    text = repr(paired)
    assert "synthetic" in text and "2 left out" in text and "+0.250" in text


def test_histograms_share_their_bins_and_the_differences_panel_shows_the_interval():
    before = [_answer(f"p{i}", (i % 2, 0, 0)) for i in range(10)]
    after = [_answer(f"p{i}", (1, i % 2, 1)) for i in range(10)]
    result = analysis.compare(before, after, source="synthetic: a test")
    fig = result.histogram_figure()
    ax_scores, ax_diff = fig.axes
    lefts = sorted({round(p.get_x(), 6) for p in ax_scores.patches})
    assert lefts == [round(x, 6) for x in analysis.shared_bins()[:-1]]  # both sides on the same 10 bins
    assert len(ax_scores.patches) == 2 * (len(analysis.shared_bins()) - 1)
    assert fig.get_suptitle() == "synthetic: a test"
    i = result.scores.interval
    assert i.estimate == pytest.approx(np.mean([a.score - b.score for a, b in zip(after, before, strict=True)]))
    assert any(line.get_xdata()[0] == pytest.approx(i.estimate) for line in ax_diff.lines)


# --------------------------------------------------------------------------- requirements
def test_pass_rates_per_kind_and_category_and_the_requirements_fixed_and_broken():
    before = [_answer("a", (1, 0, 1)), _answer("a", (1, 0, 1), sample=1), _answer("b", (1, 1, 0))]
    after = [_answer("a", (1, 1, 0)), _answer("a", (1, 1, 1), sample=1), _answer("b", (0, 1, 0))]
    changes = analysis.requirement_changes(before, after, source="synthetic", categories={"a": "icon", "b": "ui"})
    kinds = {r.group: r for r in changes.by_kind}
    assert [r.group for r in changes.by_kind] == ["text", "colour"]  # REQUIREMENT_KINDS order
    assert (kinds["colour"].checked_before, kinds["colour"].checked_after) == (6, 6)
    assert (kinds["colour"].before, kinds["colour"].after) == (pytest.approx(4 / 6), pytest.approx(5 / 6))
    assert kinds["text"].change == pytest.approx(1 / 3 - 2 / 3)
    cats = {r.group: r for r in changes.by_category}
    assert cats["icon"].checked_before == 6 and cats["icon"].before == pytest.approx(4 / 6)
    assert cats["ui"].after == pytest.approx(1 / 3)
    assert [(f.row_id, f.index) for f in changes.fixed] == [("a", 1)]     # 0% -> 100%
    assert [(f.row_id, f.index, f.before, f.after) for f in changes.broken] == [("b", 0, 1.0, 0.0)]
    # a: text 100% -> 50%: not below the 50% threshold, so not broken
    assert "A large red circle is drawn on the canvas." in changes.flips_table("fixed")
    assert "No requirement" in analysis.requirement_changes(before, before, source="s").flips_table("broken")


# --------------------------------------------------------------------------- validity and sizes
def test_validity_counts_each_problem_and_each_hack_flag_through_the_real_reward():
    texts = {
        "good": RED,
        "prose": "I cannot draw, sorry.",
        "cut": "```svg\n<svg xmlns='http://www.w3.org/2000/svg' width='100' height='100'><rect width='100'",
        "blank": "```svg\n<svg xmlns='http://www.w3.org/2000/svg' width='100' height='100'>"
                 "<rect width='100' height='100' fill='white'/></svg>\n```",
        "pasted": "```svg\n<svg xmlns='http://www.w3.org/2000/svg' width='400' height='200'>"
                  "<rect width='400' height='200' fill='white'/><circle cx='60' cy='100' r='40' fill='red'/>"
                  "<text x='10' y='20'>The background of the whole canvas is white.</text>"
                  "<text x='10' y='190'>A large red circle is drawn on the canvas.</text></svg>\n```",
    }
    before = [_scored("g", texts["good"]), _scored("p", texts["prose"]), _scored("c", texts["cut"]),
              _scored("f", None)]
    after = [_scored("g", texts["good"]), _scored("p", texts["blank"]), _scored("c", texts["pasted"]),
             _scored("f", texts["pasted"])]
    v = analysis.validity_counts(before, after, source="synthetic")
    assert (v.before["no_svg"], v.before["truncated"], v.before["no_answer"], v.before["invalid"]) == (1, 1, 1, 1)
    assert v.after["no_svg"] == v.after["truncated"] == v.after["invalid"] == 0
    assert (v.after["hack_blank"], v.after["hack_text_only"]) == (1, 2)
    assert v.before["hack_text_only"] == 0 and v.share("hack_text_only", "after") == 0.5
    assert set(v.hack_flags_rose) == {"hack_blank", "hack_text_only"}
    assert "Hack flags rose" in repr(v)


def test_sizes_and_the_rank_correlation_with_reward():
    assert analysis.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert analysis.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert analysis.spearman([1, 2, 3, 4, 5], [0, 0, 1, 1, 1]) == pytest.approx(np.corrcoef(
        [1, 2, 3, 4, 5], [1.5, 1.5, 4, 4, 4])[0, 1])                         # ties share their mean rank
    assert analysis.spearman([1, 2], [1, 2]) is None and analysis.spearman([1, 2, 3], [5, 5, 5]) is None
    good, prose = _scored("g", RED), _scored("p", "no svg here")
    points = analysis.size_points([good, prose, _scored("f", None)])
    assert [p.row_id for p in points] == ["g", "p"]                          # the invalid one left out
    svg = RED.split("\n")[1]
    assert points[0].svg_bytes == len(svg.encode()) and points[0].answer_chars == len(RED)
    assert points[1].svg_bytes == 0 and points[1].reward == 0.0


def test_galleries_pick_the_biggest_gains_and_regressions_with_representative_answers():
    before = [_answer("up", (0, 0, 0)), _answer("up2", (0, 0, 1)), _answer("down", (1, 1, 1)),
              _answer("same", (1, 0, 0))]
    after = [_answer("up", (1, 1, 1)), _answer("up", (1, 1, 0), sample=1), _answer("up", (1, 1, 0), sample=2),
             _answer("up2", (1, 0, 1)),
             _answer("down", (0, 0, 0)), _answer("same", (1, 0, 0))]
    result = analysis.compare(before, after, source="synthetic")
    gains = result.changes("gains")
    assert [c.pair.row_id for c in gains] == ["up", "up2"]
    assert gains[0].after.sample_index == 1  # 1, 0.67, 0.67 (mean 0.78): the nearest, lowest index first
    assert [c.pair.row_id for c in result.changes("regressions")] == ["down"]
    fig = result.gallery_figure("regressions")
    assert "Biggest regressions: synthetic" == fig.get_suptitle()
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(t.startswith("✓→✗ 1.") for t in texts)  # each requirement's verdict before -> after
    empty = analysis.compare(before[3:], after[4:], source="s").gallery_figure("gains")
    assert any("no prompt with gains" in t.get_text() for ax in empty.axes for t in ax.texts)


# --------------------------------------------------------------------------- the report
class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [(tag, k, v or "") for k, v in attrs if k in ("src", "href", "srcset", "action", "data")]


def test_the_report_exists_embeds_its_images_and_loads_nothing_from_the_network(tmp_path):
    before = [_scored("g", RED), _scored("p", "no svg"), _answer("x", (0, 0, 1))]
    after = [_scored("g", RED), _scored("p", RED), _answer("x", (1, 1, 1))]
    result = analysis.compare(before, after, source="RFT miniature (synthetic test)")
    path = report.write_report(result, path=tmp_path / "r" / "report.html", banner="**From the miniature.**")
    assert path.is_file()
    text = path.read_text(encoding="utf-8")
    parser = _Refs()
    parser.feed(text)
    images = [v for tag, k, v in parser.refs if tag == "img"]
    assert len(images) >= 5 and all(v.startswith("data:image/png;base64,") for v in images)
    for uri in images:
        assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\x89PNG")
    assert not [r for r in parser.refs if not r[2].startswith("data:")], "nothing loaded from elsewhere"
    assert not {"script", "link", "iframe", "object", "embed"} & set(parser.tags)
    assert not re.search(r"url\(|@import|https?://", text.split("<body>", 1)[0]), "styles load nothing"
    assert "<b>From the miniature.</b>" in text and "RFT miniature (synthetic test)" in text
    assert "<table>" in text and "Biggest gains" in text


def test_report_markdown_escapes_what_it_is_given():
    out = report.markdown_html("**a** <script>x</script> `c`\n\n| h | n |\n|---|---:|\n| <b> | 1 |")
    assert "<script>" not in out and "&lt;script&gt;" in out and "<b>a</b>" in out and "<code>c</code>" in out
    assert '<td class=r>1</td>' in out and "<td>&lt;b&gt;</td>" in out
