"""Notebook views: galleries, figures and tables."""

import io

import pytest
from PIL import Image

from svgkit import dataset, display, gallery, plots
from svgkit.evaluation import score_generations
from svgkit.generate import offline_generations
from svgkit.judge import RuleJudge


@pytest.fixture(scope="module")
def scored():
    examples = [ex for ex in dataset.load_examples() if ex.prompt_id in {"sc01", "ic06"}]
    rows = dataset.examples_to_rows(examples, dataset.load_bundled_prompts())
    return score_generations(offline_generations(examples, rows), rows, judge=RuleJudge(), progress=False)


def _png_size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def test_answers_sheet_draws_every_answer_and_marks_the_failures(scored):
    sheet = gallery.answers_sheet(scored, columns=3, tile=100)
    rows = -(-len(scored) // 3)
    assert sheet.width >= 3 * 100 and sheet.height >= rows * 100
    truncated = next(a for a in scored if a.example_id == "sc01-c")
    assert gallery._caption(gallery_extraction(truncated), None) == "truncated SVG"


def gallery_extraction(answer):
    from svgkit.svg import extract_svg

    return extract_svg(answer.response)


def test_answer_html_shows_verdicts_labels_and_escapes_text(scored):
    answer = next(a for a in scored if a.example_id == "sc01-a")
    page = gallery.answer_html(answer)
    assert page.count("<tr") == len(answer.requirements) + 1
    assert "data:image/png;base64," in page
    assert f"score {answer.score:.2f}" in page
    disagreeing = [i for i in answer.items if answer.labels[i.index] != i.fulfilled]
    assert page.count("color:#b00000") == len(disagreeing)
    evil = answer.__class__(**{**answer.__dict__, "prompt": "<script>alert(1)</script>"})
    assert "<script>" not in gallery.answer_html(evil)


def test_gallery_widget_switches_answers(scored):
    widget = gallery.gallery_widget(scored)
    picker, view = widget.children
    first = view.value
    picker.value = len(scored) - 1
    assert view.value != first and scored[-1].example_id in view.value


def test_pick_showcase_is_deterministic_and_spans_the_scores(scored):
    picked = gallery.pick_showcase(scored, n=3)
    assert picked == gallery.pick_showcase(list(reversed(scored)), n=3)
    drawn = [a.score for a in scored if a.response]
    assert picked[0].score == max(drawn) and picked[-1].score == min(drawn)


def test_figures_render_to_png(scored):
    for fig in (gallery.verdict_figure(scored[:2]),
                plots.dataset_overview(__import__("svgkit.stats").stats.prompt_stats(dataset.load_bundled_prompts())),
                plots.image_grid([plots.ImageTile(None, "nothing")])):
        png = fig._repr_png_()
        assert png.startswith(b"\x89PNG") and min(_png_size(png)) > 100


def test_scores_and_calibration_tables(scored):
    table = display.scores_table(scored, limit=2)
    assert len(table.splitlines()) == 2 + 2 + 1  # header, rule, 2 rows, "more" row
    assert "| sc01-a |" in table and f"{len(scored) - 2} more" in table
    from svgkit.calibrate import calibrate, join_examples

    report = calibrate(RuleJudge(), join_examples(dataset.load_bundled_prompts(),
                                                  [e for e in dataset.load_examples() if e.prompt_id == "sc01"]))
    cal = display.calibration_table(report)
    assert f"| overall | all | {report.overall.n} | {report.accuracy:.2f} |" in cal
    assert plots.calibration_figure(report)._repr_png_().startswith(b"\x89PNG")


def test_contact_sheet_placeholder_for_missing_images():
    red = io.BytesIO()
    Image.new("RGB", (50, 30), "red").save(red, format="PNG")
    sheet = gallery.contact_sheet([(red.getvalue(), "red"), (None, "missing", "no SVG")], columns=2, tile=60)
    assert sheet.width >= 120
    pixels = sheet.convert("RGB")
    assert any(pixels.getpixel((x, y)) == (255, 0, 0) for x in range(0, 60) for y in range(0, 80))


def test_gallery_explains_undecided_and_the_offline_judge_where_the_score_is_shown(scored):
    best = next(a for a in scored if a.example_id == "sc01-a")
    undecided = sum(not i.decided for i in best.items)
    note = gallery.verdict_note(best)
    assert f"{undecided} ? undecided" in note and "counts as not fulfilled" in note
    assert "offline stand-in" in note and "hand-made labels this answer scores 1.00" in note
    assert note in gallery.answer_html(best).replace("&#x27;", "'")


def test_gallery_display_carries_a_static_copy_for_github_and_untrusted_notebooks(scored):
    bundle = gallery.gallery_widget(scored)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    static = bundle["text/html"]
    assert gallery.STATIC_NOTE in static and f"{scored[0].example_id}: score" in static
    assert "data:image/png;base64," in static
