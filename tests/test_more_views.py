"""More views: load_prompts modes, Markdown tables, term bars, example tiles, the contact sheet."""

import hashlib
import io
import json
import math
from collections import Counter

import pytest
from PIL import Image

from svgkit import dataset, display, gallery, plots
from svgkit.dataset import DownloadError, Prompt, load_bundled_prompts, load_examples, load_prompts
from svgkit.standin import Response
from svgkit.stats import CATEGORIES, PromptStats, TermCounts, prompt_stats, term_counts

QUESTIONS = [{"prompt": f"Write `svg` code for an image of gadget {i}.",
              "requirements": [f"Gadget {i} is green.", f"There are {i + 1} knobs."]} for i in range(4)]
BODY = json.dumps(QUESTIONS).encode()


@pytest.fixture
def server(standin):
    """The stand-in serving BODY at /questions.json."""
    standin.add_route("GET", "/questions.json", lambda request: Response.text(BODY, content_type="application/json"))
    return standin


def _live_kwargs(server, tmp_path):
    return {"url": f"{server.url}/questions.json", "sha256": hashlib.sha256(BODY).hexdigest(),
            "expected_bytes": len(BODY), "cache_dir": tmp_path / "cache", "timeout": 5}


# --------------------------------------------------------------------------- load_prompts
def test_load_prompts_offline_returns_bundled_set_without_touching_the_network(server, tmp_path):
    loaded = load_prompts(mode="offline", **_live_kwargs(server, tmp_path))
    assert loaded.source == "bundled" and loaded.notice is None
    assert loaded.prompts == load_bundled_prompts()
    assert server.requests == []
    assert not (tmp_path / "cache").exists()


def test_load_prompts_live_downloads_via_load_svgbench_with_passed_kwargs(server, tmp_path):
    loaded = load_prompts(mode="live", **_live_kwargs(server, tmp_path))
    assert loaded.source == "svgbench-download"
    assert len(server.requests) == 1
    assert [p.prompt for p in loaded.prompts] == [q["prompt"] for q in QUESTIONS]
    assert [p.requirements for p in loaded.prompts] == [tuple(q["requirements"]) for q in QUESTIONS]
    assert [p.id for p in loaded.prompts] == [f"svgbench-{i}" for i in range(len(QUESTIONS))]
    assert dataset.svgbench_cache_path(tmp_path / "cache").read_bytes() == BODY


def test_load_prompts_live_passes_strict_and_size_check_through(server, tmp_path):
    kwargs = {**_live_kwargs(server, tmp_path), "expected_bytes": len(BODY) + 1}
    with pytest.raises(DownloadError, match=f"expected {len(BODY) + 1}"):
        load_prompts(mode="live", strict=True, **kwargs)
    fallback = load_prompts(mode="live", **kwargs)
    assert fallback.source == "bundled" and "expected" in fallback.notice
    assert not dataset.svgbench_cache_path(tmp_path / "cache").exists()


@pytest.mark.parametrize("env_mode, expected_source, expected_requests",
                         [("offline", "bundled", 0), ("live", "svgbench-download", 1)])
def test_load_prompts_default_mode_follows_svgkit_mode(server, monkeypatch, tmp_path, env_mode, expected_source,
                                                       expected_requests):
    monkeypatch.setenv("SVGKIT_MODE", env_mode)
    loaded = load_prompts(**_live_kwargs(server, tmp_path))
    assert loaded.source == expected_source
    assert len(server.requests) == expected_requests
    expected = load_bundled_prompts() if env_mode == "offline" else [q["prompt"] for q in QUESTIONS]
    assert [p.prompt for p in loaded.prompts] == [getattr(p, "prompt", p) for p in expected]


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
