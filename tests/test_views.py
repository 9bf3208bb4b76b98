"""Notebook views (svgkit.display, svgkit.plots, svgkit.gallery): tables, figures, galleries and contact sheets."""

import io
import json
import math
from collections import Counter

import pytest
from PIL import Image

from svgkit import dataset, display, gallery, plots
from svgkit.dataset import Prompt, load_bundled_prompts, load_examples
from svgkit.generate import offline_generations
from svgkit.judge import RuleJudge
from svgkit.scoring import score_generations
from svgkit.stats import CATEGORIES, PromptStats, TermCounts, prompt_stats, term_counts


@pytest.fixture(scope="module")
def scored():
    examples = [ex for ex in dataset.load_examples() if ex.prompt_id in {"sc01", "ic06"}]
    rows = dataset.examples_to_rows(examples, dataset.load_bundled_prompts())
    return score_generations(offline_generations(examples, rows), rows, judge=RuleJudge(), progress=False)


def _png_size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


Box = tuple[int, int, int, int]


def _tile_regions(index: int, *, columns: int, tile: int) -> tuple[Box, Box]:
    """The picture box and the second caption line of tile ``index`` (the sheet's layout: 10 px pad, 16 px lines)."""
    x0 = 10 + (index % columns) * (tile + 10)
    y0 = 10 + (index // columns) * (tile + 10 + 2 * 16 + 4)
    return (x0, y0, x0 + tile, y0 + tile), (x0, y0 + tile + 20, x0 + tile, y0 + tile + 36)


def _share(sheet, box, test) -> float:
    pixels = [sheet.getpixel((x, y)) for x in range(box[0], box[2]) for y in range(box[1], box[3])]
    return sum(map(test, pixels)) / len(pixels)


def _placeholder_grey(p):
    return p == (217, 217, 217)


def _failure_red(p):
    return p[0] - max(p[1], p[2]) > 60  # the failure line is drawn in #a33


def test_answers_sheet_draws_every_answer_and_marks_the_failures(scored):
    sheet = gallery.answers_sheet(scored, columns=3, tile=100).convert("RGB")
    rows = -(-len(scored) // 3)
    assert sheet.width >= 3 * 100 and sheet.height >= rows * 100
    for index, answer in enumerate(scored):
        picture, failure_line = _tile_regions(index, columns=3, tile=100)
        if answer.example_id == "sc01-c":  # truncated: a "not drawn" tile with the reason in red under it
            assert _share(sheet, picture, _placeholder_grey) > 0.8
            assert _share(sheet, failure_line, _failure_red) > 0.01
        else:  # drawn, nothing removed: a picture, no failure line
            assert _share(sheet, picture, _placeholder_grey) < 0.1, answer.example_id
            assert _share(sheet, failure_line, _failure_red) == 0, answer.example_id


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
    items = [(red.getvalue(), "red"), (None, "missing", "no SVG"), (b"not a png", "broken")]
    sheet = gallery.contact_sheet(items, columns=3, tile=60).convert("RGB")
    assert sheet.width >= 3 * 60
    drawn, _ = _tile_regions(0, columns=3, tile=60)
    assert _share(sheet, drawn, lambda p: p == (255, 0, 0)) > 0.5 and _share(sheet, drawn, _placeholder_grey) == 0
    for index in (1, 2):  # no PNG, and bytes that are not an image: both get the grey "not drawn" tile
        box, _ = _tile_regions(index, columns=3, tile=60)
        assert _share(sheet, box, _placeholder_grey) > 0.7
        assert _share(sheet, box, lambda p: max(p) < 140) > 0.005, "the tile is labelled (dark 'not drawn' text)"
    _, second_line = _tile_regions(1, columns=3, tile=60)
    assert _share(sheet, second_line, _failure_red) > 0.01, "the reason ('no SVG') is written under it"


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


# --------------------------------------------------------------------------- display
def test_prompt_card_numbers_requirements_and_shows_id_and_category():
    p = Prompt("zz07", "Draw a lighthouse at dusk.", ("A white tower.", "A red roof.", "An orange sky."), "scene")
    lines = display.prompt_card(p).splitlines()
    assert lines[0] == "#### `zz07` · *scene*"
    assert lines[1] == p.prompt
    assert lines[2] == ""
    assert lines[3:] == [f"{i}. {r}" for i, r in enumerate(p.requirements, 1)]
    uncategorised = display.prompt_card(Prompt("q1", "Draw a cat.", ("A cat.",)), heading_level=2)
    assert uncategorised.splitlines()[0] == "## `q1`"
    assert "·" not in uncategorised and "*" not in uncategorised


def _table_rows(markdown: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown.splitlines()[2:]]


def test_files_table_reports_sizes_jsonl_lines_and_relative_paths(tmp_path):
    root = tmp_path / "root"
    rows_file = root / "data" / "rows.jsonl"
    rows_file.parent.mkdir(parents=True)
    rows_file.write_text("".join(json.dumps({"i": i, "pad": "x" * 300}) + "\n" for i in range(5)), encoding="utf-8")
    notes = root / "notes.txt"
    notes.write_text("one\ntwo\nthree\n", encoding="utf-8")
    outside = tmp_path / "elsewhere.jsonl"
    outside.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")

    table = display.files_table([rows_file, notes, outside], root=root)
    assert table.splitlines()[0] == "| file | size | lines |"
    rows = _table_rows(table)
    assert rows == [
        ["`data/rows.jsonl`", f"{rows_file.stat().st_size:,} B", "5"],
        ["`notes.txt`", f"{notes.stat().st_size:,} B", "-"],  # line counts are only for JSONL
        [f"`{outside}`", f"{outside.stat().st_size:,} B", "2"],  # not under root: shown in full
    ]
    assert rows_file.stat().st_size > 1000 and "," in rows[0][1]
    # without a root every path is shown as given
    assert _table_rows(display.files_table([notes]))[0][0] == f"`{notes}`"


def _stat(pid, category, rule, n):
    return PromptStats(pid, category, rule, n, prompt_chars=10, requirement_words=n * 3, est_prompt_tokens=20)


def test_category_table_counts_means_and_rules_per_category():
    stats = [
        _stat("a", "icon", "logo", 8), _stat("b", "zzz-custom", None, 9), _stat("c", "icon", "logo", 11),
        _stat("d", "chart", "histogram", 7), _stat("e", "icon", None, 12), _stat("f", "scene", None, 10),
    ]
    rows = _table_rows(display.category_table(stats))
    # known categories in CATEGORIES order, then the unknown ones sorted
    present = {s.category for s in stats}
    assert [r[0] for r in rows] == [c for c in CATEGORIES if c in present] + ["zzz-custom"]
    by_cat = {r[0]: r for r in rows}
    for cat in present:
        group = [s for s in stats if s.category == cat]
        assert by_cat[cat][1] == str(len(group))
        assert by_cat[cat][2] == f"{sum(s.n_requirements for s in group) / len(group):.1f}"
    # the most frequent rule first, the default rule named
    assert by_cat["icon"][3] == "logo x2, default (no keyword) x1"
    assert by_cat["chart"][3] == "histogram x1"
    assert by_cat["zzz-custom"][3] == "default (no keyword) x1"


def test_category_table_on_bundled_prompts_covers_every_prompt():
    prompts = load_bundled_prompts()
    rows = _table_rows(display.category_table(prompt_stats(prompts)))
    assert {r[0] for r in rows} == {p.category for p in prompts}
    assert sum(int(r[1]) for r in rows) == len(prompts)
    for r in rows:
        assert r[3] == f"bundled label x{r[1]}"


# --------------------------------------------------------------------------- plots
def _bars(ax) -> list[tuple[str, float]]:
    labels = [t.get_text() for t in ax.get_yticklabels()]
    widths = [patch.get_width() for patch in ax.patches]
    ys = [patch.get_y() + patch.get_height() / 2 for patch in ax.patches]
    return [(labels[round(y)], w) for y, w in zip(ys, widths, strict=True)]


def test_term_bars_draws_one_bar_per_counted_term_up_to_top():
    terms = term_counts(load_bundled_prompts())
    top = 4
    fig = plots.term_bars(terms, top=top)
    axes = fig.get_axes()
    assert [ax.get_title() for ax in axes] == ["Colours in requirements", "Shapes in requirements",
                                               "Spatial words in requirements"]
    for ax, counter in zip(axes, (terms.colours, terms.shapes, terms.spatial), strict=True):
        assert len(counter) > top  # so the cut-off is exercised
        bars = _bars(ax)
        assert len(bars) == top
        # bottom to top: the most frequent term is the top bar
        assert bars == [(w, float(n)) for w, n in counter.most_common(top)[::-1]]


def test_term_bars_with_few_terms_and_colour_mapping():
    terms = TermCounts(colours=Counter({"golden": 3, "navy": 5}), shapes=Counter({"circle": 1}), spatial=Counter())
    fig = plots.term_bars(terms, top=10)
    colours_ax, shapes_ax, spatial_ax = fig.get_axes()
    assert _bars(colours_ax) == [("golden", 3.0), ("navy", 5.0)]
    assert _bars(shapes_ax) == [("circle", 1.0)]
    assert len(spatial_ax.patches) == 0
    from matplotlib.colors import to_rgba

    faces = [patch.get_facecolor() for patch in colours_ax.patches]
    assert faces == [to_rgba("gold"), to_rgba("navy")]  # "golden" is drawn in gold
    assert shapes_ax.patches[0].get_facecolor() == to_rgba("#777777")


def test_term_bars_draws_a_colour_word_matplotlib_does_not_know_in_its_colour_class():
    """The colour words are the judge's: "wooden" (22 mentions in SVGBench) counts, and is drawn brown."""
    from matplotlib.colors import to_rgba

    terms = term_counts([Prompt("w", "Draw a cabin.", ("A wooden door.", "A mustard roof and a red chimney."))])
    assert terms.colours == Counter({"wooden": 1, "mustard": 1, "red": 1})
    (colours_ax, _, _) = plots.term_bars(terms).get_axes()
    faces = {label: patch.get_facecolor() for (label, _), patch in zip(_bars(colours_ax), colours_ax.patches,
                                                                      strict=True)}
    assert faces == {"wooden": to_rgba("brown"), "mustard": to_rgba("yellow"), "red": to_rgba("red")}


def _prompt(pid: str) -> Prompt:
    return next(p for p in load_bundled_prompts() if p.id == pid)


@pytest.fixture(scope="module")
def sc01_examples():
    examples = [ex for ex in load_examples() if ex.prompt_id == "sc01"]
    assert {"truncated"} in [set(ex.faults) for ex in examples]
    assert any(ex.quality == "good" and not ex.faults for ex in examples)
    return examples


def test_example_tiles_for_one_prompt(sc01_examples):
    tiles = plots.example_tiles(sc01_examples)
    assert len(tiles) == len(sc01_examples)
    for ex, tile in zip(sc01_examples, tiles, strict=True):
        assert tile.title.startswith(f"{ex.example_id} ({ex.quality}): ")
        assert tile.caption.endswith(f"labelled {sum(ex.labels)}/{len(ex.labels)} requirements met")
        if "truncated" in ex.faults:
            assert tile.png is None
            assert "truncated" in tile.caption
        elif ex.quality == "good":
            assert tile.caption.startswith("drawn")
            assert tile.title.endswith(", ".join(ex.faults) or "no deliberate fault")
            picture = Image.open(io.BytesIO(tile.png))
            assert picture.format == "PNG" and min(picture.size) > 16
            assert len(picture.convert("RGB").getcolors(1 << 24)) > 1  # not a blank canvas


def test_example_tiles_figure_lays_out_only_that_prompts_examples(sc01_examples):
    prompt = _prompt("sc01")
    fig = plots.example_tiles_figure(load_examples(), prompt, columns=2)
    assert prompt.prompt[:40] in fig._suptitle.get_text()
    axes = fig.get_axes()
    assert len(axes) == 2 * math.ceil(len(sc01_examples) / 2)
    used, spare = axes[: len(sc01_examples)], axes[len(sc01_examples):]
    for ax, ex in zip(used, sc01_examples, strict=True):
        assert ax.get_title().replace("\n", " ").startswith(ex.example_id)
        if "truncated" in ex.faults:
            assert len(ax.images) == 0 and any(t.get_text() == "nothing drawn" for t in ax.texts)
        else:
            assert len(ax.images) == 1
    assert all(not ax.axison for ax in spare)
    assert fig._repr_png_().startswith(b"\x89PNG")


# --------------------------------------------------------------------------- contact sheet
def test_write_contact_sheet_writes_png_growing_with_the_examples(tmp_path, monkeypatch):
    everything = load_examples()
    heights, widths = {}, {}
    for n in (8, 16, 24):
        monkeypatch.setattr(dataset, "load_examples", lambda n=n: everything[:n])
        target = tmp_path / f"sheet-{n}" / "nested" / "sheet.png"
        written = gallery.write_contact_sheet(target)
        assert written == target and target.is_file()
        with Image.open(target) as sheet:
            assert sheet.format == "PNG"
            widths[n], heights[n] = sheet.size
    # 8 columns per row: one, two, three rows of equal height, same width
    assert len(set(widths.values())) == 1
    assert heights[8] < heights[16] < heights[24]
    assert heights[16] - heights[8] == heights[24] - heights[16]

    monkeypatch.setattr(dataset, "load_examples", lambda: everything)
    full = gallery.write_contact_sheet(tmp_path / "full.png")
    with Image.open(full) as sheet:
        rows = math.ceil(len(everything) / 8)
        assert sheet.size[1] == heights[8] + (rows - 1) * (heights[16] - heights[8])
        grey = sheet.convert("L")
        low, high = grey.getextrema()
        assert high - low > 100  # pictures and text, not a blank canvas
        assert len(sheet.convert("RGB").getcolors(1 << 24)) > 256
