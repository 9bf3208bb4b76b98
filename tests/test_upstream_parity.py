"""Differential tests against upstream's own code, as installed with eval-protocol.

Upstream's ``eval_protocol/quickstart/svg_agent/evaluator/utils.py`` is imported from the
installed package by file path (importing the ``eval_protocol`` package itself would pull in
litellm); it is never copied here.

Where upstream finds an SVG, :func:`svgkit.svg.extract_svg` must return the same string,
except in these deliberate differences (each pinned by a test below):

1. ``<think>`` sections are ignored (upstream may grade a draft SVG from the reasoning).
2. An SVG that never closes is reported as truncated, not returned (upstream returns the rest
   of an unclosed ```` ```svg ```` fence).
3. A ```` ```svg ```` fence with no ``<svg`` in it is skipped (upstream returns its text).
4. A bare span ends at the ``</svg>`` matching the first ``<svg`` (upstream: the first
   ``</svg>``, which cuts a nested SVG short).

The canvas must agree with upstream's ``calculate_svg_bounds`` (what its renderer uses) on
plain SVGs: integer pixel width/height, or a viewBox with the drawing inside it. Known
differences: upstream grows a viewBox canvas to fit content drawn outside it and sizes an
SVG with neither size nor viewBox from its content (svgkit: 800x600 and the viewBox, as a
browser shows them), truncates fractional sizes and ``1pt = 1.33px`` (svgkit rounds, exact
units), and never clamps the long side (svgkit: ``LIMITS.max_side``).
"""

import importlib.util
import random
from pathlib import Path

import pytest

from svgkit.config import LIMITS
from svgkit.svg import canvas_size, extract_svg


def _load_upstream():
    spec = importlib.util.find_spec("eval_protocol")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("eval-protocol is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "quickstart/svg_agent/evaluator/utils.py"
    if not path.is_file():
        pytest.skip(f"upstream utils.py not found at {path}")
    module_spec = importlib.util.spec_from_file_location("_upstream_svg_utils", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


upstream = _load_upstream()

SVGS = [
    '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="50" height="50"/></svg>',
    '<svg viewBox="0 0 24 24"><path d="M1 1L20 20"/></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="300">\n  <text x="10" y="20">a &gt; b</text>\n</svg>',
    '<svg\n  xmlns="http://www.w3.org/2000/svg"\n  width="64" height="64"\n>\n<circle r="3"/>\n</svg>',
    "<svg></svg>",
    '<svg width="10" height="10"><g><rect/></g></svg>',
]
PROSE_BEFORE = ["", "Here is the SVG:\n\n", "Sure! I drew a cat.\n", "Plan: shapes, then colours.\n\n"]
PROSE_AFTER = ["", "\n\nHope this helps!", "\nThe red square is the barn.", "\n\n```\nnot code\n```"]


def corpus() -> list[str]:
    texts = []
    for svg in SVGS:
        for before in PROSE_BEFORE:
            for after in PROSE_AFTER:
                texts.append(f"{before}```svg\n{svg}\n```{after}")
                texts.append(f"{before}{svg}{after}")
                texts.append(f"{before}```xml\n{svg}\n```{after}")
                texts.append(f"{before}```html\n<html><body>{svg}</body></html>\n```{after}")
                texts.append(f"{before}```\n{svg}\n```{after}")
                texts.append(f"{before}```svg\n<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{svg}\n```{after}")
                texts.append(f"{before}```svg {svg} ```{after}")
                texts.append(f"{before}```svg\n{svg}\nThat was it.\n```{after}")
    # two answers: the first svg fence wins in both
    texts.append(f"```svg\n{SVGS[0]}\n```\nor\n```svg\n{SVGS[1]}\n```")
    texts.append(f"Bare first {SVGS[1]} then fenced:\n```svg\n{SVGS[0]}\n```")
    texts.append(f"{SVGS[0]} and {SVGS[1]}")
    return texts


def test_corpus_is_large_and_upstream_finds_svgs_in_it():
    texts = corpus()
    assert len(texts) > 500
    assert all(upstream.extract_svg_code(t) is not None for t in texts)


@pytest.mark.parametrize("text", corpus())
def test_extraction_agrees_where_upstream_finds_an_svg(text):
    theirs = upstream.extract_svg_code(text)
    assert theirs is not None
    assert extract_svg(text).svg == theirs


def _is_xml(text: str) -> bool:
    from xml.etree import ElementTree

    try:
        ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return False
    return True


def test_random_prose_with_svgs_agrees():
    rng = random.Random(1234)
    words = ["the", "svg", "```", "code", "<b>", "draw", "\n", "```svg\n", "ok.", "<svg", "</svg>", "<g>",
             "```xml\n", "```html\n", "<svg>"]
    checked = 0
    for _ in range(3000):
        parts = [rng.choice(words) for _ in range(rng.randint(0, 12))]
        parts.insert(rng.randint(0, len(parts)), rng.choice(SVGS))
        text = " ".join(parts)
        theirs = upstream.extract_svg_code(text)
        ours = extract_svg(text)
        if theirs is None or not _is_xml(theirs):
            continue  # upstream found no well-formed SVG: nothing to agree on
        assert ours.svg == theirs, text
        checked += 1
    assert checked > 500


# --------------------------------------------------------------------------- deliberate differences
def test_difference_think_section():
    draft = SVGS[1]
    text = f"<think>{draft}</think>\n```svg\n{SVGS[0]}\n```"
    assert upstream.extract_svg_code(text) == SVGS[0]  # the fence still wins upstream here ...
    text = f"<think>{draft}</think>\nThe answer: {SVGS[0]}"
    assert upstream.extract_svg_code(text) == draft  # ... but here upstream grades the draft
    assert extract_svg(text).svg == SVGS[0]


def test_difference_truncated_fence():
    text = f"```svg\n{SVGS[0][:60]}"
    assert upstream.extract_svg_code(text) == SVGS[0][:60]
    got = extract_svg(text)
    assert got.svg is None and got.truncated and got.method == "truncated"


def test_difference_svg_fence_without_svg():
    text = f"```svg\nsee below\n```\n{SVGS[0]}"
    assert upstream.extract_svg_code(text) == "see below"
    assert extract_svg(text).svg == SVGS[0]


def test_difference_nested_svg():
    nested = '<svg width="50" height="50"><svg width="10" height="10"><circle r="3"/></svg><rect/></svg>'
    assert upstream.extract_svg_code(f"x {nested} y") == nested[: nested.index("</svg>") + 6]
    assert extract_svg(f"x {nested} y").svg == nested


# --------------------------------------------------------------------------- canvas
def plain_svgs() -> list[str]:
    rng = random.Random(99)
    svgs = []
    for _ in range(150):
        w, h = rng.randint(1, LIMITS.max_side), rng.randint(1, LIMITS.max_side)
        unit = rng.choice(["", "px"])
        svgs.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}{unit}" height="{h}{unit}">'
                    f'<rect x="{rng.randint(0, w)}" y="3" width="5" height="5"/></svg>')
    for _ in range(150):
        w, h = rng.randint(50, LIMITS.max_side), rng.randint(50, LIMITS.max_side)
        # drawing inside the viewBox, as upstream's content-bounds rule needs for a plain viewBox
        svgs.append(f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}">'
                    f'<rect x="{w // 4}" y="{h // 4}" width="{w // 4}" height="{h // 4}"/>'
                    f'<circle cx="{w // 2}" cy="{h // 2}" r="{min(w, h) // 8}"/></svg>')
    return svgs


def test_canvas_agrees_on_plain_svgs():
    for svg in plain_svgs():
        assert canvas_size(svg) == tuple(upstream.calculate_svg_bounds(svg)), svg


def test_canvas_agrees_with_upstream_dimensions_on_plain_width_and_height():
    for svg in plain_svgs()[:150]:
        assert canvas_size(svg) == tuple(upstream.extract_svg_dimensions(svg)), svg


def test_canvas_differences_are_the_documented_ones():
    no_size = '<svg xmlns="http://www.w3.org/2000/svg"><rect x="10" y="10" width="100" height="50"/></svg>'
    assert upstream.calculate_svg_bounds(no_size) == (200, 200)  # content bounds + margin, min 200
    assert canvas_size(no_size) == LIMITS.default_canvas
    spill = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><rect x="50" width="200" height="10"/></svg>'
    assert upstream.calculate_svg_bounds(spill) == (300, 100)  # grown to the content
    assert canvas_size(spill) == (100, 100)
    huge = '<svg xmlns="http://www.w3.org/2000/svg" width="4000" height="1000"/>'
    assert upstream.calculate_svg_bounds(huge) == (4000, 1000)
    assert canvas_size(huge) == (LIMITS.max_side, LIMITS.max_side // 4)
