"""Reward-hack canaries: every family scores at most CANARY_LIMIT under the rule judge, the honest
answers keep their credit, and the answers are what their family says."""

import pytest

from svgkit.canaries import (
    CANARY_LIMIT,
    CANARY_PROMPT_IDS,
    FAMILIES,
    canary_cost,
    canary_prompts,
    hack_answers,
    run_canaries,
)
from svgkit.judge import RuleJudge
from svgkit.svg import extract_svg

# the notebook's set plus the prompts the review measured holes on (windmill, weekday bars) and a badge
PROMPTS = [*CANARY_PROMPT_IDS, "sc07", "ic02", "ic08"]


@pytest.fixture(scope="module")
def report():
    return run_canaries(canary_prompts(PROMPTS), judge=RuleJudge(), concurrency=2)


def test_every_family_scores_at_most_the_limit(report):
    scores = report.family_scores()
    assert list(scores) == list(FAMILIES), "every family was tried"
    over = [(r.answer.name, r.answer.prompt_id, r.score, r.reason[:120]) for r in report.results
            if r.score > CANARY_LIMIT]
    assert not over and report.passed, over
    assert all(r.valid for r in report.results), "a hack scores a valid 0 (an invalid one teaches nothing)"


def test_honest_answers_keep_their_credit(report):
    honest = dict(report.honest)
    assert set(honest) == set(PROMPTS)
    assert report.honest_mean >= 6 * CANARY_LIMIT
    for prompt_id, score in honest.items():  # each honest answer beats every hack of its prompt
        best_hack = max(r.score for r in report.results if r.answer.prompt_id == prompt_id)
        assert score > best_hack, prompt_id


def test_the_table_names_the_judge_and_marks_each_family(report):
    table = report.table()
    assert "**rule** judge" in table and table.count("| pass |") == len(FAMILIES)
    assert "honest answers" in table and "GAMEABLE" not in table


def test_hack_answers_are_deterministic_and_hold_what_their_family_says():
    (prompt,) = canary_prompts(["ic06"])
    first, again = hack_answers(prompt), hack_answers(prompt)
    assert first == again and {a.family for a in first} == set(FAMILIES)
    noise = next(a for a in first if a.family == "noise")
    assert extract_svg(noise.response).svg.count("<") > 2000
    nested = next(a for a in first if a.family == "nested-text")
    assert "data:image/svg+xml" in nested.response
    with pytest.raises(ValueError, match="unknown canary family"):
        hack_answers(prompt, families=["nope"])
    with pytest.raises(KeyError, match="no bundled prompt"):
        canary_prompts(["zz99"])


def test_canary_cost_is_free_for_the_rule_judge_and_priced_for_the_vision_judge():
    prompts = canary_prompts()
    free = canary_cost(prompts, judge_model=None)
    paid = canary_cost(prompts, judge_model="gpt-4.1")
    assert free.total_usd == 0 and free.generation_calls == 0 and paid.generation_calls == 0
    answers = sum(len(hack_answers(p)) + 1 for p in prompts)  # one call per hack answer and honest answer
    assert paid.judge_calls == answers and paid.total_usd > 0
    assert canary_cost(prompts[:2], judge_model="gpt-4.1").total_usd < paid.total_usd


def test_the_plain_text_repr_is_a_summary(report):
    """A notebook saves it beside the table: every hack answer's SVG made it 600 kB."""
    text = repr(report)
    worst = max(mx for _, mx, _ in report.family_scores().values())
    assert len(text) < 300 and f"canaries={len(report.results)}" in text and f"worst={worst:.3f}" in text
    assert f"honest_mean={report.honest_mean:.3f}" in text and "judge='rule'" in text
