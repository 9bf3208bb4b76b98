"""svgkit.scoring: scoring answers in notebooks, with their verdicts and the render the reward judged."""

import io

import pytest

from svgkit import dataset, gallery, render
from svgkit.generate import Generation, offline_generations
from svgkit.judge import RuleJudge
from svgkit.scoring import ScoredAnswer, score_generations
from svgkit.svg import extract_svg


def test_score_generations_keeps_order_labels_and_marks_failed_generations():
    rows = dataset.examples_to_rows(dataset.load_examples()[:3], dataset.load_bundled_prompts())
    gens = [Generation(r["input_metadata"]["row_id"], 0, "m", r["messages"][1]["content"],
                       example_id=r["input_metadata"]["row_id"], source="bundled-example") for r in rows]
    gens.append(Generation(rows[0]["input_metadata"]["row_id"], 1, "m", None, error="HTTP 500"))
    scored = score_generations(gens, rows, judge=RuleJudge(), progress=False)
    assert [s.row_id for s in scored] == [g.row_id for g in gens]
    assert scored[0].labels == tuple(dataset.load_examples()[0].labels)
    assert scored[-1].result.is_score_valid is False and "HTTP 500" in scored[-1].result.reason
    items = scored[0].items
    assert len(items) == len(scored[0].requirements) and all(i.text for i in items)
    assert sum(i.fulfilled for i in items) == round(scored[0].score * len(items))



def test_one_failing_item_does_not_lose_the_batch():
    class Flaky(RuleJudge):
        async def ajudge(self, image, requirements, **kw):
            if "lighthouse" in (kw.get("prompt") or ""):
                raise RuntimeError("judge exploded")
            return await super().ajudge(image, requirements, **kw)

    examples = [e for e in dataset.load_examples() if e.prompt_id in {"sc01", "sc02"} and e.quality == "good"]
    rows = dataset.examples_to_rows(examples, dataset.load_bundled_prompts())
    gens = [Generation(r["input_metadata"]["row_id"], 0, "m", r["messages"][1]["content"],
                       example_id=r["input_metadata"]["row_id"]) for r in rows]
    scored = score_generations(gens, rows, judge=Flaky(), progress=False)
    by_id = {s.row_id: s for s in scored}
    assert by_id["sc01-a"].result.is_score_valid is False and "judge exploded" in by_id["sc01-a"].result.reason
    assert by_id["sc02-a"].result.is_score_valid is not False and by_id["sc02-a"].score > 0


@pytest.fixture(scope="module")
def scored():
    examples = [ex for ex in dataset.load_examples() if ex.prompt_id in {"sc01", "ic06"}]
    rows = dataset.examples_to_rows(examples, dataset.load_bundled_prompts())
    return score_generations(offline_generations(examples, rows), rows, judge=RuleJudge(), progress=False)


def test_a_scored_answer_keeps_the_render_the_reward_judged(scored):
    drawn = [a for a in scored if a.render is not None]
    assert drawn, "the bundled sc01/ic06 examples include drawn answers"
    for answer in drawn:
        assert answer.render.ok and answer.render.png
        # the picture a fresh render of its SVG gives, at the size the reward measured
        assert answer.render.png == render.render_png(extract_svg(answer.response).svg).png
        assert answer.result.metrics["format_rendered"].reason == f"{answer.render.width}x{answer.render.height}"
    for answer in scored:
        if answer.render is None:
            assert answer.result.metrics["format_extracted"].score == 0  # nothing to draw: no complete SVG


def test_a_generation_that_failed_keeps_no_render():
    rows = dataset.examples_to_rows(dataset.load_examples()[:1], dataset.load_bundled_prompts())
    (failed,) = score_generations([Generation(rows[0]["input_metadata"]["row_id"], 0, "m", None, error="HTTP 500")],
                                  rows, judge=RuleJudge(), progress=False)
    assert failed.render is None and failed.result.is_score_valid is False


def test_gallery_and_figures_never_render_a_scored_answer_again(scored, monkeypatch):
    """Everything the gallery shows of a scored answer comes from its kept render (no second render)."""
    calls = []

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    real = render.render_png
    monkeypatch.setattr(render, "render_png", counting)
    drawn = [a for a in scored if a.render is not None]
    assert [gallery.answer_png(a) for a in drawn] == [a.render.png for a in drawn]
    html = gallery.answer_html(drawn[0])
    gallery.verdict_figure(gallery.pick_showcase(scored, n=3)).savefig(io.BytesIO(), format="png")
    gallery.gallery_widget(scored)
    assert calls == [], "the gallery rendered an answer the reward had already rendered"
    assert "data:image/png;base64," in html
    # an answer that carries no render (built by hand) is still drawn, through the same renderer
    bare = ScoredAnswer(drawn[0].row_id, 0, drawn[0].prompt, drawn[0].requirements, drawn[0].response,
                        drawn[0].source, drawn[0].result)
    assert gallery.answer_png(bare) == drawn[0].render.png and len(calls) == 1


def test_live_generations_without_a_chosen_judge_are_refused(monkeypatch):
    from svgkit.judge import JudgeNotChosenError

    monkeypatch.setenv("FIREWORKS_API_KEY", "fw-test-key-not-real-0000")
    for name in ("OPENAI_API_KEY", "SVGKIT_JUDGE_API_KEY", "SVGKIT_JUDGE", "SVGKIT_MODE"):
        monkeypatch.delenv(name, raising=False)
    rows = dataset.examples_to_rows(dataset.load_examples()[:1], dataset.load_bundled_prompts())
    live = [Generation(rows[0]["input_metadata"]["row_id"], 0, "m", rows[0]["messages"][1]["content"], source="live")]
    with pytest.raises(JudgeNotChosenError):
        score_generations(live, rows, progress=False)
    monkeypatch.setenv("SVGKIT_JUDGE", "rule")
    (scored,) = score_generations(live, rows, progress=False)
    assert scored.result.is_score_valid and scored.judge == "rule"
