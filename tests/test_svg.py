"""Extraction, sanitising and canvas size (svgkit.svg), run in-process."""

import base64
import gzip
import io
import random
import re
import urllib.parse

import cairosvg
import numpy as np
import pytest
from PIL import Image

from svgkit.config import LIMITS
from svgkit.svg import SVG_NS, Extraction, canvas_size, extract_svg, sanitize_svg

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="80"><rect width="60" height="40" fill="red"/></svg>'


# --------------------------------------------------------------------------- extraction
def test_fenced_svg_block():
    text = f"Here you go:\n\n```svg\n{SVG}\n```\n\nHope it helps."
    assert extract_svg(text) == Extraction(SVG, "fenced_svg", False)


def test_fenced_svg_keeps_prolog_like_upstream():
    body = '<?xml version="1.0"?>\n' + SVG
    assert extract_svg(f"```svg\n{body}\n```").svg == body


def test_first_svg_fence_wins_over_earlier_bare_svg():
    other = SVG.replace("red", "blue")
    got = extract_svg(f"Draft: {other}\n\n```svg\n{SVG}\n```")
    assert got.method == "fenced_svg" and got.svg == SVG


def test_bare_svg_in_prose():
    got = extract_svg(f"Sure! {SVG} That's a red box.")
    assert got == Extraction(SVG, "bare", False)


def test_xml_fence():
    got = extract_svg(f"```xml\n<?xml version='1.0'?>\n{SVG}\n```")
    assert got.method == "fenced_xml" and got.svg == SVG


def test_html_fence_takes_the_svg_inside_the_page():
    got = extract_svg(f"```html\n<html><body><h1>Logo</h1>{SVG}</body></html>\n```")
    assert got.method == "fenced_html" and got.svg == SVG


def test_think_section_is_ignored():
    draft = SVG.replace("red", "green")
    text = f"<think>Let me sketch: {draft} hmm, make it red.</think>\n```svg\n{SVG}\n```"
    got = extract_svg(text)
    assert got.svg == SVG and got.think_removed


def test_only_draft_inside_think_means_no_svg():
    got = extract_svg(f"<think>{SVG}</think>I cannot draw that.")
    assert got.svg is None and got.method == "none" and got.think_removed


def test_lone_closing_think_drops_the_reasoning_before_it():
    draft = SVG.replace("red", "green")
    got = extract_svg(f"reasoning with {draft}</think>\n\nFinal: {SVG}")
    assert got.svg == SVG and got.method == "bare"


def test_unclosed_think_hides_everything_after_it():
    got = extract_svg(f"<think>planning {SVG} and more planning")
    assert got.method == "none" and got.svg is None


def test_truncated_fenced_svg_is_reported_as_truncated():
    cut = SVG[:70]
    got = extract_svg(f"```svg\n{cut}")
    assert got.method == "truncated" and got.truncated and got.svg is None
    assert got.partial == cut.strip()


def test_truncated_bare_svg_is_reported_as_truncated():
    got = extract_svg("Here: <svg width='10'><rect")
    assert got.method == "truncated" and got.truncated and got.partial.startswith("<svg")


def test_no_svg_at_all():
    assert extract_svg("I'm sorry, I can't draw.") == Extraction(None, "none", False)
    assert extract_svg(None).method == "none"  # type: ignore[arg-type]


def test_nested_svg_is_closed_by_its_own_tag():
    inner = '<svg x="5"><circle r="3"/></svg>'
    outer = f'<svg xmlns="http://www.w3.org/2000/svg">{inner}<rect width="2" height="2"/></svg>'
    assert extract_svg(f"look {outer} done").svg == outer


def test_svg_fence_without_svg_falls_back_to_bare_span():
    got = extract_svg(f"```svg\n<rect/>\n```\nActually: {SVG}")
    assert got.method == "bare" and got.svg == SVG


# --------------------------------------------------------------------------- think sections and long answers
def _old_strip_think(text: str) -> tuple[str, bool]:
    """The regex implementation the linear one replaced (quadratic on unclosed tags)."""
    cleaned = re.sub(r"<think\b[^>]*>.*?</think\s*>", "", text, flags=re.I | re.S)
    closes = list(re.finditer(r"</think\s*>", cleaned, re.I))
    if closes:
        cleaned = cleaned[closes[-1].end():]
    opened = re.search(r"<think\b[^>]*>", cleaned, re.I)
    if opened:
        cleaned = cleaned[: opened.start()]
    return cleaned, cleaned != text


def test_think_stripping_matches_the_regex_definition_on_random_input():
    from svgkit.svg import _strip_think

    pieces = ["<think>", "</think>", "<think a='>'>", "</think >", "<THINK>", "</Think\n>", "<thinking>",
              "<think", "</think", ">", "x", " ", "\n", "<svg>", "</svg>", "<", "/"]
    rng = random.Random(7)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        assert _strip_think(text) == _old_strip_think(text), repr(text)


@pytest.mark.parametrize(
    "text",
    [
        "<think>" * 140_000 + SVG,  # was quadratic: 32,000 tags took 17 s
        "<think a=1" * 90_000 + ">" + SVG,
        "<think>" + "</think" * 100_000 + SVG,
        "<think>x</think>" * 40_000 + "<think>" * 40_000 + SVG,
    ],
)
def test_think_stripping_on_pathological_input(text):
    got = extract_svg(text)
    assert len(text) <= LIMITS.max_response_chars
    assert got.svg is None and got.method == "none" and got.think_removed and not got.clipped


def test_closed_think_sections_before_the_answer_at_scale():
    text = "<think>draft <svg></svg></think>" * 20_000 + SVG
    assert extract_svg(text) == Extraction(SVG, "bare", False, think_removed=True)


def test_response_longer_than_the_limit_is_clipped():
    n = LIMITS.max_response_chars
    far = "x" * n + "```svg\n" + SVG + "\n```"
    assert extract_svg(far) == Extraction(None, "none", False, clipped=True)
    near = "y" * (n - len(SVG) - 10) + SVG + "z" * 100
    assert extract_svg(near) == Extraction(SVG, "bare", False, clipped=True)
    across = "y" * (n - 50) + SVG
    got = extract_svg(across)
    assert got.method == "truncated" and got.clipped and got.partial == across[n - 50: n]
    assert extract_svg("y" * (n - len(SVG)) + SVG) == Extraction(SVG, "bare", False)  # exactly at the limit


# --------------------------------------------------------------------------- sanitising
def codes(result) -> set[str]:
    return {f.code for f in result.findings}


def test_benign_svg_passes_unchanged_in_meaning():
    result = sanitize_svg(SVG)
    assert not result.rejected and not result.recovered and result.findings == ()
    assert result.svg.startswith("<svg") and 'fill="red"' in result.svg


@pytest.mark.parametrize(
    "snippet, code",
    [
        ("<script>alert(1)</script>", "script"),
        ('<foreignObject width="10" height="10"><div>hi</div></foreignObject>', "foreign_object"),
        ('<rect width="5" height="5" onclick="alert(1)"/>', "event_handler"),
        ('<image href="http://example.invalid/a.png" width="5" height="5"/>', "external_href"),
        ('<image xlink:href="file:///etc/passwd" width="5" height="5" '
         'xmlns:xlink="http://www.w3.org/1999/xlink"/>', "external_href"),
        ('<rect width="5" height="5" fill="url(http://example.invalid/p.svg#g)"/>', "external_url"),
        ('<rect width="5" height="5" style="fill:url(http://example.invalid/x)"/>', "css_external_url"),
        ("<style>@import url(http://example.invalid/x.css); rect{fill:red}</style>", "css_import"),
        ('<filter id="f"><feImage href="http://example.invalid/a.png"/></filter>', "external_href"),
        ('<set attributeName="href" to="javascript:alert(1)"/>', "animation"),
    ],
)
def test_dangerous_content_is_removed(snippet, code):
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="20" height="20">{snippet}<circle r="4"/></svg>'
    result = sanitize_svg(svg)
    assert not result.rejected
    assert code in codes(result)
    assert all(f.severity == "removed" for f in result.findings if f.code == code)
    low = result.svg.lower()
    for bad in ("script", "onclick", "example.invalid", "file:", "@import", "javascript"):
        assert bad not in low
    assert "<circle" in result.svg


def test_local_references_and_data_images_are_kept():
    png = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
           "DwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
           f'<defs><linearGradient id="g"><stop offset="0" stop-color="red"/></linearGradient>'
           f'<circle id="c" r="3"/></defs><rect width="9" height="9" fill="url(#g)"/>'
           f'<use xlink:href="#c" x="4"/><image href="{png}" width="2" height="2"/></svg>')
    result = sanitize_svg(svg)
    assert result.findings == ()
    assert 'fill="url(#g)"' in result.svg and 'xlink:href="#c"' in result.svg and png in result.svg


def test_embedded_svg_image_is_sanitised_too():
    inner = '<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script><rect width="1" height="1"/></svg>'
    uri = "data:image/svg+xml;base64," + base64.b64encode(inner.encode()).decode()
    result = sanitize_svg(f'<svg xmlns="http://www.w3.org/2000/svg"><image href="{uri}"/></svg>')
    assert "script" in codes(result)
    new_uri = result.svg.split('href="')[1].split('"')[0]
    assert "script" not in base64.b64decode(new_uri.split(",", 1)[1]).decode()


@pytest.mark.parametrize(
    "svg, code",
    [
        ('<!DOCTYPE svg [<!ENTITY a "x">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>', "entity"),
        ('<!DOCTYPE svg [ ]><svg xmlns="http://www.w3.org/2000/svg"/>', "doctype"),
        ("<svg>" + "<g>" * (LIMITS.max_depth + 1) + "</g>" * (LIMITS.max_depth + 1) + "</svg>", "too_deep"),
        ("<svg>" + "<rect/>" * (LIMITS.max_elements + 1) + "</svg>", "too_many_elements"),
        ("<svg>" + "x" * (LIMITS.max_svg_bytes + 1) + "</svg>", "too_large"),
        ('<svg xmlns="http://www.w3.org/2000/svg"><g id="a"><use href="#a"/></g></svg>', "use_cycle"),
        ("<html><body/></html>", "not_svg"),
        ("", "empty"),
    ],
)
def test_rejections(svg, code):
    result = sanitize_svg(svg)
    assert result.rejected and result.svg is None and result.reason
    assert code in codes(result)
    assert [f.code for f in result.findings if f.severity == "rejected"] == [code]


def test_use_bomb_is_rejected():
    parts = ['<svg xmlns="http://www.w3.org/2000/svg"><defs><rect id="l0" width="1" height="1"/>']
    for level in range(1, 8):
        uses = "".join(f'<use href="#l{level - 1}"/>' for _ in range(10))
        parts.append(f'<g id="l{level}">{uses}</g>')
    parts.append('</defs><use href="#l7"/></svg>')
    result = sanitize_svg("".join(parts))
    assert result.rejected and "reference_expansion" in codes(result)


def test_moderate_use_reuse_is_fine():
    uses = "".join(f'<use href="#s" x="{i}"/>' for i in range(200))
    svg = f'<svg xmlns="http://www.w3.org/2000/svg"><defs><g id="s"><rect width="1" height="1"/></g></defs>{uses}</svg>'
    assert not sanitize_svg(svg).rejected


def test_bare_doctype_removed_by_default_rejected_when_strict():
    svg = ('<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'
           + SVG)
    lenient = sanitize_svg(svg)
    assert not lenient.rejected and "doctype" in codes(lenient)
    assert sanitize_svg(svg, strict=True).rejected


@pytest.mark.parametrize(
    "broken, expect",
    [
        # stray ampersand: the browser keeps it as text
        ('<svg xmlns="http://www.w3.org/2000/svg"><text>Salt & pepper</text></svg>', "Salt &amp; pepper"),
        # mismatched end tag: ignored, the circle stays inside the red group
        ('<svg xmlns="http://www.w3.org/2000/svg"><g fill="red"><rect width="5" height="5"/></gg>'
         '<circle r="3"/></g></svg>', '<g fill="red"><rect width="5" height="5"/><circle r="3"/></g>'),
        # missing end tag: closed at the end
        ('<svg xmlns="http://www.w3.org/2000/svg"><g fill="blue"><circle r="3"/></svg>',
         '<g fill="blue"><circle r="3"/></g>'),
        # HTML entity and unquoted attribute
        ('<svg xmlns="http://www.w3.org/2000/svg"><text x=5>a&nbsp;b</text></svg>', '<text x="5">a\u00a0b</text>'),
        # undeclared xlink prefix
        ('<svg xmlns="http://www.w3.org/2000/svg"><circle id="c" r="2"/><use xlink:href="#c"/></svg>',
         'xlink:href="#c"'),
    ],
)
def test_malformed_xml_is_recovered_like_a_browser(broken, expect):
    result = sanitize_svg(broken)
    assert result.recovered and not result.rejected
    assert [f.severity for f in result.findings if f.code == "malformed_xml"] == ["recovered"]
    assert expect in result.svg
    strict = sanitize_svg(broken, strict=True)
    assert strict.rejected and "invalid_xml" in codes(strict)


def test_html_names_are_normalised():
    result = sanitize_svg('<svg viewbox="0 0 10 10"><LinearGradient id="g"/><RECT FILL="red"/></svg>')
    assert 'viewBox="0 0 10 10"' in result.svg and "<linearGradient" in result.svg
    assert '<rect fill="red"/>' in result.svg


def test_editor_metadata_is_dropped_quietly():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" '
           'inkscape:version="1.0"><inkscape:grid/><rect width="2" height="2"/></svg>')
    result = sanitize_svg(svg)
    assert "inkscape" not in result.svg and not result.rejected
    assert all(f.severity == "info" for f in result.findings)


def test_output_is_svg_namespaced_even_without_xmlns():
    from lxml import etree

    root = etree.fromstring(sanitize_svg("<svg><rect/></svg>").svg)
    assert root.tag == f"{{{SVG_NS}}}svg" and root[0].tag == f"{{{SVG_NS}}}rect"


BENIGN = [
    SVG,
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="100" height="100">'
    '<defs><linearGradient id="g" x1="0" x2="1"><stop offset="0" stop-color="#f00"/>'
    '<stop offset="1" stop-color="#00f"/></linearGradient></defs>'
    '<circle cx="50" cy="50" r="40" fill="url(#g)" stroke="black" stroke-width="3"/>'
    '<path d="M10 90 Q50 10 90 90" fill="none" stroke="green"/></svg>',
    '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="80" height="60">'
    '<style>.a{fill:orange} rect{stroke:#333}</style><defs><g id="p"><rect class="a" width="10" height="10"/></g>'
    '</defs><use xlink:href="#p" x="5" y="5"/><use xlink:href="#p" x="30" y="20" transform="rotate(10)"/>'
    '<polygon points="50,5 70,50 30,50" fill="purple" opacity="0.5"/><!-- a comment --></svg>',
]


def _pixels(svg: str) -> np.ndarray:
    png = cairosvg.svg2png(bytestring=svg.encode(), parent_width=200, parent_height=200, background_color="white")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


@pytest.mark.parametrize("svg", BENIGN)
def test_sanitising_a_benign_svg_keeps_its_pixels(svg):
    clean = sanitize_svg(svg)
    assert not clean.rejected
    before, after = _pixels(svg), _pixels(clean.svg)
    assert before.shape == after.shape
    assert np.array_equal(before, after)


def test_sanitize_never_raises_on_junk():
    for junk in ["<", "<svg", "<svg><", "&&&", "<svg>\x00\x01</svg>", "<svg " + "a" * 1000, "\ud800<svg/>"]:
        result = sanitize_svg(junk)
        assert result.rejected or result.svg.startswith("<svg")


# --------------------------------------------------------------------------- canvas
@pytest.mark.parametrize(
    "attrs, size",
    [
        ('width="300" height="200"', (300, 200)),
        ('width="300px" height="2in"', (300, 192)),
        ('width="10cm" height="5cm"', (378, 189)),
        ('viewBox="0 0 640 480"', (640, 480)),
        ('viewBox="0,0,64,32"', (64, 32)),
        ('width="200" viewBox="0 0 100 50"', (200, 100)),
        ('width="100%" height="100%" viewBox="0 0 400 300"', (400, 300)),
        ("", (800, 600)),
        ('width="2048" height="1024"', (1024, 512)),
        ('width="1e9" height="10"', (1024, 1)),
        ('width="-5" height="abc"', (800, 600)),
    ],
)
def test_canvas_size(attrs, size):
    assert canvas_size(f'<svg xmlns="http://www.w3.org/2000/svg" {attrs}><rect/></svg>') == size


def test_canvas_max_side_option():
    assert canvas_size('<svg width="400" height="100"/>', max_side=200) == (200, 50)
    with pytest.raises(ValueError, match="max_side"):
        canvas_size("<svg/>", max_side=0)


def test_text_nested_in_text_is_removed():
    result = sanitize_svg('<svg><text x="1">a<text x="2">b</text>c</text></svg>')
    assert "nested_text" in codes(result)
    assert result.svg.count("<text") == 1 and ">ac</text>" in result.svg


_EXTREMES = ["1e300", "1e-300", "1e308", "1e308in", "1e-320", "0", "-5", "nan", "inf", "1e999", "5", "100%", ""]


@pytest.mark.parametrize("vb", ["", "0 0 1e-300 1e300", "0 0 1e300 1e-300", "0 0 1e308 1e308", "0 0 1e-320 5",
                                "0 0 nan 5", "0 0 inf inf", "0 0 4 3"])
def test_canvas_size_never_raises_on_extreme_numbers(vb):
    for w in _EXTREMES:
        for h in _EXTREMES:
            attrs = " ".join(f'{k}="{v}"' for k, v in (("width", w), ("height", h), ("viewBox", vb)) if v)
            cw, ch = canvas_size(f"<svg {attrs}/>")
            assert 1 <= cw <= LIMITS.max_side and 1 <= ch <= LIMITS.max_side, attrs


def test_overflowing_size_falls_back_to_the_viewbox_or_default():
    # width * viewBox ratio overflows to inf (and inf * 0 to NaN); this used to raise ValueError.
    assert canvas_size('<svg width="1e300" viewBox="0 0 1e-300 1e300"/>') == (1, 1024)
    assert canvas_size('<svg width="1e300" viewBox="0 0 1e-300 1e300"/>', max_side=10) == (1, 10)
    assert canvas_size('<svg height="1e-300" viewBox="0 0 1e-300 1e300"/>') == (1, 1024)
    assert canvas_size('<svg width="1e-320" height="1e-320"/>') == (1, 1)


# ---------------------------------------------------------------- data: URIs, embedded images, xml: attributes
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _raster(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (0, 128, 255)).save(out, fmt)
    return out.getvalue()


_INNER_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="5" height="5"><text><text>x</text></text></svg>'


@pytest.mark.parametrize(
    "uri",
    [
        "data:image/png;base64," + _b64(_INNER_SVG),
        "data:image/jpeg;base64," + _b64(b"\xff\xd8\xff\xe0" + _INNER_SVG),  # JPEG magic, SVG inside
        "data:image/gif;base64," + _b64(b"GIF89a" + _INNER_SVG.upper()),
        "data:image/png;base64," + _b64(gzip.compress(_INNER_SVG)),  # svgz
        "data:image/svg;base64," + _b64(_INNER_SVG),  # not image/svg+xml: was passed through
        "data:image/png," + urllib.parse.quote(_INNER_SVG),
        "DATA:image/png;base64," + _b64(_INNER_SVG),
        "data:image/png;base64,not base64 at all!",
        "data:image/bmp;base64," + _b64(b"BM" + b"\x00" * 60),  # decodable, but not an allowed type
    ],
)
def test_data_image_that_is_not_a_raster_image_is_removed(uri):
    # cairosvg draws any image whose bytes contain "<svg" (or are gzipped) as SVG, unsanitised.
    result = sanitize_svg(f'<svg xmlns="{SVG_NS}" width="9" height="9"><image href="{uri}" width="5" '
                          f'height="5"/><rect width="1" height="1"/></svg>')
    assert not result.rejected
    assert "bad_data_image" in codes(result)
    assert "<image" not in result.svg and "data:" not in result.svg.lower()
    assert "<rect" in result.svg


@pytest.mark.parametrize("fmt, mime", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"),
                                        ("WEBP", "image/webp")])
def test_raster_data_images_are_kept_and_re_encoded(fmt, mime):
    data = _raster(fmt)
    wrapped = _b64(data)
    wrapped = "\n".join(wrapped[i: i + 20] for i in range(0, len(wrapped), 20))  # MIME-style line breaks
    result = sanitize_svg(f'<svg xmlns="{SVG_NS}" width="9" height="9">'
                          f'<image href="data:image/png;base64,{wrapped}" width="4" height="4"/></svg>')
    assert result.findings == ()
    assert f'href="data:{mime};base64,{_b64(data)}"' in result.svg
    drawn = Image.open(io.BytesIO(cairosvg.svg2png(bytestring=result.svg.encode()))).convert("RGBA")
    assert np.abs(np.asarray(drawn)[2, 2].astype(int) - (0, 128, 255, 255)).max() <= 8


def test_css_url_holding_svg_bytes_as_a_png_is_removed():
    uri = "data:image/png;base64," + _b64(_INNER_SVG)
    result = sanitize_svg(f'<svg xmlns="{SVG_NS}"><rect width="5" height="5" fill="url({uri})" '
                          f'style="stroke:url({uri})"/></svg>')
    assert {"external_url", "css_external_url"} <= codes(result)
    assert "data:" not in result.svg


@pytest.mark.parametrize("element", ["use", "tref"])
def test_data_targets_of_use_and_tref_are_removed(element):
    inner = (f'<svg xmlns="{SVG_NS}"><g id="a">' + '<rect width="1" height="1"/>' * 100 + "</g>"
             + '<use href="#a"/>' * 100 + "</svg>")
    uri = "data:image/svg+xml;base64," + _b64(inner.encode())
    body = f'<use href="{uri}#a"/>' if element == "use" else f'<text><tref href="{uri}"/></text>'
    result = sanitize_svg(f'<svg xmlns="{SVG_NS}" width="9" height="9">{body}<circle r="2"/></svg>')
    assert not result.rejected and "data_href" in codes(result)
    assert f"<{element}" not in result.svg and "data:" not in result.svg


def test_local_use_still_counts_its_expansion():
    uses = '<use href="#a"/>' * 30
    svg = f'<svg xmlns="{SVG_NS}"><defs><g id="a">' + "<rect/>" * 2000 + f"</g></defs>{uses}</svg>"
    assert "reference_expansion" in codes(sanitize_svg(svg))


def test_rejected_embedded_svg_only_removes_that_image():
    bad = b'<!DOCTYPE svg [<!ENTITY x "y">]><svg xmlns="http://www.w3.org/2000/svg"/>'
    result = sanitize_svg(f'<svg xmlns="{SVG_NS}" width="9" height="9"><rect width="9" height="9"/>'
                          f'<image href="data:image/svg+xml;base64,{_b64(bad)}" width="5" height="5"/></svg>')
    assert not result.rejected and result.svg is not None
    assert all(f.severity != "rejected" for f in result.findings)
    assert {"entity", "nested_svg_image"} <= {f.code for f in result.removed}


def test_xml_base_is_removed_and_xml_space_and_lang_kept():
    svg = (f'<svg xmlns="{SVG_NS}" width="9" height="9" xml:base="http://example.invalid/base/" xml:lang="en">'
           '<text xml:space="preserve" xml:base="http://example.invalid/t/" xml:id="t">a  b</text></svg>')
    result = sanitize_svg(svg)
    assert "xml_base" in codes(result) and "xml_attribute" in codes(result)
    assert "example.invalid" not in result.svg and "xml:base" not in result.svg and "xml:id" not in result.svg
    assert 'xml:space="preserve"' in result.svg and 'xml:lang="en"' in result.svg


def test_xml_base_is_removed_from_recovered_svg_too():
    result = sanitize_svg(f'<svg xmlns="{SVG_NS}" xml:base="http://example.invalid/"><rect & ></svg>')
    assert result.recovered and "xml_base" in codes(result) and "example.invalid" not in result.svg


# --------------------------------------------------------------------------- references cairosvg follows
XL = 'xmlns:xlink="http://www.w3.org/1999/xlink"'
_SCRIPTED = f'<svg xmlns="{SVG_NS}" width="9" height="9"><script>alert(1)</script><rect width="9" height="9"/></svg>'
_SCRIPTED_URI = "data:image/svg+xml;base64," + base64.b64encode(_SCRIPTED.encode()).decode()


@pytest.mark.parametrize(
    "body",
    [
        f'<image width="9" height="9" style="href:&quot;{_SCRIPTED_URI}&quot;"/>',
        f'<image width="9" height="9" style="HREF : url({_SCRIPTED_URI})"/>',
        f'<style>image {{ href: "{_SCRIPTED_URI}" }}</style><image width="9" height="9"/>',
        f'<style>image {{ /* hidden */ href/**/: "{_SCRIPTED_URI}" }}</style><image width="9" height="9"/>',
        # An escaped name is the Clark name cairosvg stores xlink:href under.
        f'<image width="9" height="9" style="\\{{http\\:\\/\\/www\\.w3\\.org\\/1999\\/xlink\\}}href:&quot;'
        f'{_SCRIPTED_URI}&quot;"/>',
        f'<image width="9" height="9" style="hr\\65 f:&quot;{_SCRIPTED_URI}&quot;"/>',
    ],
)
def test_href_in_css_is_removed(body):
    result = sanitize_svg(f'<svg xmlns="{SVG_NS}" width="20" height="20">{body}<circle r="4"/></svg>')
    assert not result.rejected and "css_not_style" in codes(result)
    assert "data:" not in result.svg and "href" not in result.svg.lower()
    assert "<image" not in result.svg  # without a target it draws nothing (cairosvg would read a file)
    assert result.embedded == ()


def test_css_id_cannot_name_a_definition():
    # cairosvg registers patterns and markers under an id from CSS, where the count cannot see them.
    svg = (f'<svg xmlns="{SVG_NS}" width="20" height="20"><pattern style="id: p" width="2" height="2">'
           f'<rect width="1" height="1"/></pattern><rect width="20" height="20" fill="url(#p)"/></svg>')
    result = sanitize_svg(svg)
    assert "css_not_style" in codes(result) and "id:" not in result.svg.replace(" ", "")


def test_plain_style_is_untouched_by_the_css_checks():
    style = "fill: #123456; stroke-width: 2px; --accent: red; font-family: 'Liberation Sans'"
    result = sanitize_svg(f'<svg xmlns="{SVG_NS}" width="9" height="9"><rect style="{style}"/></svg>')
    assert result.findings == () and style in result.svg


def test_use_bomb_through_css_href_draws_nothing_heavy():
    parts = [f'<svg xmlns="{SVG_NS}" width="100" height="100"><defs><path id="a0" d="M0 0h1v1z"/>']
    for level in range(1, 10):
        parts.append(f'<g id="a{level}">' + f'<use style="href:#a{level - 1}"/>' * 10 + "</g>")
    parts.append('</defs><use style="href: #a9"/><circle r="5"/></svg>')
    result = sanitize_svg("".join(parts))
    # The uses had no target the count could see; now they have none cairosvg can follow either.
    assert not result.rejected and "css_not_style" in codes(result)
    assert "<use" not in result.svg and "<circle" in result.svg


@pytest.mark.parametrize("order", ["href first", "xlink first"])
def test_href_and_xlink_href_are_normalised_to_the_one_browsers_follow(order):
    both = ('href="#small" xlink:href="#bomb"' if order == "href first" else 'xlink:href="#bomb" href="#small"')
    bomb = '<g id="bomb">' + '<rect width="1" height="1"/>' * 400 + "</g>"
    svg = (f'<svg xmlns="{SVG_NS}" {XL} width="9" height="9"><defs>{bomb}<rect id="small" width="1" height="1"/>'
           f'</defs>' + f'<use {both}/>' * 200 + "</svg>")
    result = sanitize_svg(svg)
    assert not result.rejected and "duplicate_href" in {f.code for f in result.removed}
    assert 'href="#small"' in result.svg and "#bomb" not in result.svg.split("</defs>")[1]
    # The other way round, the bomb is what both cairosvg and the count follow: rejected.
    swapped = svg.replace('"#small"', '"#tmp"').replace('"#bomb"', '"#small"').replace('"#tmp"', '"#bomb"')
    assert "reference_expansion" in codes(sanitize_svg(swapped))


def test_identical_href_and_xlink_href_keep_one_quietly():
    result = sanitize_svg(f'<svg xmlns="{SVG_NS}" {XL}><rect id="r" width="1" height="1"/>'
                          f'<use href="#r" xlink:href="#r"/></svg>')
    assert [f.severity for f in result.findings if f.code == "duplicate_href"] == ["info"]
    assert result.svg.count("#r") == 1


def _levels(make_level, top: str, levels: int = 6) -> str:
    return f'<svg xmlns="{SVG_NS}" width="99" height="99"><defs>' + "".join(
        make_level(k) for k in range(levels)) + f"</defs>{top}</svg>"


@pytest.mark.parametrize(
    "svg",
    [
        # clip paths of clip paths: 10 rects a level, each clipped by the level below
        _levels(lambda k: f'<clipPath id="c{k}">' + (f'<rect width="9" height="9" clip-path="url(#c{k - 1})"/>'
                                                    if k else '<rect width="9" height="9"/>') * 10 + "</clipPath>",
                '<rect width="50" height="50" clip-path="url(#c5)"/>'),
        # patterns painted with patterns
        _levels(lambda k: f'<pattern id="p{k}" width="5" height="5" patternUnits="userSpaceOnUse">'
                          + (f'<rect width="5" height="5" fill="url(#p{k - 1})"/>' if k else "<rect/>") * 10
                          + "</pattern>", '<rect width="99" height="99" fill="url(#p5)"/>'),
        # the same, the paint set by a <style> rule and inherited from a group
        _levels(lambda k: f'<pattern id="p{k}" width="5" height="5" patternUnits="userSpaceOnUse">'
                          + (f'<g class="l{k}">' + "<rect/>" * 10 + "</g>" if k else "<rect/>") + "</pattern>",
                "<style>" + "".join(f".l{k} {{ fill: url(#p{k - 1}) }}" for k in range(1, 6)) + "</style>"
                '<rect width="99" height="99" style="fill:url(#p5)"/>'),
        # markers at every vertex of paths inside markers
        _levels(lambda k: f'<marker id="m{k}">' + (f'<path d="M0 0{" L1 1" * 30}" marker-mid="url(#m{k - 1})"/>'
                                                   if k else "<rect/>") + "</marker>",
                f'<path d="M0 0{" L1 1" * 30}" marker-mid="url(#m5)"/>', levels=5),
        # masks of masks
        _levels(lambda k: f'<mask id="k{k}">' + (f'<rect width="9" height="9" mask="url(#k{k - 1})"/>'
                                                if k else "<rect/>") * 10 + "</mask>",
                '<rect width="50" height="50" mask="url(#k5)"/>'),
        # a bare "#id" and an external-looking URL count by their fragment, as in cairosvg
        _levels(lambda k: f'<mask id="k{k}">' + (f'<rect width="9" height="9" mask="#k{k - 1}"/>'
                                                if k else "<rect/>") * 10 + "</mask>",
                '<rect width="50" height="50" style="mask: #k5"/>'),
        # text drawn along a clip path that holds many elements, once per tspan
        f'<svg xmlns="{SVG_NS}"><defs><clipPath id="c">' + "<rect/>" * 600 + '</clipPath></defs><text href="#c">'
        + "<tspan>a</tspan>" * 100 + "</text></svg>",
    ],
    ids=["clip-path", "pattern", "pattern-by-style-rule", "marker", "mask", "bare-fragment", "text-path"],
)
def test_reference_bombs_beyond_use_are_rejected(svg):
    result = sanitize_svg(svg)
    assert result.rejected and codes(result) == {"reference_expansion"}


def test_embedded_images_count_as_everything_they_draw():
    inner = f'<svg xmlns="{SVG_NS}" width="9" height="9">' + "<rect/>" * 500 + "</svg>"
    image = f'<image id="i" width="9" height="9" href="data:image/svg+xml;base64,{_b64(inner.encode())}"/>'
    once = sanitize_svg(f'<svg xmlns="{SVG_NS}"><defs>{image}</defs><use href="#i"/></svg>')
    assert not once.rejected and once.embedded
    many = sanitize_svg(f'<svg xmlns="{SVG_NS}"><defs>{image}</defs>' + '<use href="#i"/>' * 120 + "</svg>")
    assert many.rejected and codes(many) == {"reference_expansion"}


def test_moderate_patterns_markers_and_clips_are_fine():
    svg = (f'<svg xmlns="{SVG_NS}" width="99" height="99"><defs>'
           '<pattern id="p" width="4" height="4" patternUnits="userSpaceOnUse"><circle r="1"/><rect/></pattern>'
           '<marker id="m" markerWidth="3" markerHeight="3"><path d="M0 0L3 1.5L0 3z"/></marker>'
           '<clipPath id="c"><circle cx="50" cy="50" r="40"/></clipPath></defs>'
           '<style>.dot { fill: url(#p) }</style><g clip-path="url(#c)">'
           + '<circle class="dot" r="3"/>' * 300 + '<rect width="3" height="3"/>' * 3000
           + f'<path d="M0 0{" L9 9" * 200}" marker-mid="url(#m)" stroke="black"/></g></svg>')
    result = sanitize_svg(svg)
    # 300 pattern paints of 3 elements each (the rule matches the dots only, as cssselect2 says).
    assert not result.rejected, result.reason


@pytest.mark.parametrize(
    "svg",
    [
        f'<svg xmlns="{SVG_NS}"><pattern id="p" width="9" height="9"><rect width="9" height="9" fill="url(#p)"/>'
        '</pattern><rect width="99" height="99" fill="url(#p)"/></svg>',
        f'<svg xmlns="{SVG_NS}"><clipPath id="c"><rect clip-path="url(#c)"/></clipPath>'
        '<rect clip-path="url(#c)"/></svg>',
        # the pattern's content inherits the fill from the pattern's ancestors, not from the rect painted
        f'<svg xmlns="{SVG_NS}" fill="url(#p)"><pattern id="p" width="9" height="9"><rect width="9" height="9"/>'
        '</pattern><rect width="99" height="99"/></svg>',
        f'<svg xmlns="{SVG_NS}"><marker id="m"><path d="M0 0L1 1" marker-end="url(#m)"/></marker>'
        '<path d="M0 0L9 9" marker-end="url(#m)"/></svg>',
    ],
    ids=["pattern", "clip-path", "inherited-fill", "marker"],
)
def test_reference_cycles_are_rejected(svg):
    result = sanitize_svg(svg)
    assert result.rejected and codes(result) == {"reference_cycle"}


def test_a_gradient_inherited_by_its_own_pattern_is_no_cycle():
    # Gradients have no content and definitions are drawn as plain groups: nothing recurses.
    svg = (f'<svg xmlns="{SVG_NS}" fill="url(#g)"><linearGradient id="g"><stop offset="0"/></linearGradient>'
           '<defs><pattern id="p" width="9" height="9"><rect width="9" height="9" fill="red"/></pattern></defs>'
           '<rect width="99" height="99" stroke="url(#p)"/></svg>')
    assert not sanitize_svg(svg).rejected


# --------------------------------------------------------------------------- values cairosvg cannot parse
@pytest.mark.parametrize(
    "attrs, drawn",
    [
        ('opacity="50%"', 'opacity="0.5"'),
        ('style="fill-opacity: 25%"', "fill-opacity:0.25"),
        ('opacity="half"', None),
        ('stroke-miterlimit="sharp"', None),
        ('viewBox="0 0 10"', None),
    ],
)
def test_values_cairosvg_reads_as_floats_are_normalised_or_dropped(attrs, drawn):
    result = sanitize_svg(f'<svg xmlns="{SVG_NS}" width="9" height="9"><rect width="9" height="9" {attrs}/></svg>')
    assert not result.rejected
    if drawn is None:
        assert "invalid_value" in codes(result) and attrs.split("=")[0] not in result.svg
    else:
        assert "value_normalised" in codes(result) and drawn in result.svg
    cairosvg.svg2png(bytestring=result.svg.encode())  # used to raise ValueError: the whole drawing failed


def test_marker_orient_with_units_becomes_degrees():
    result = sanitize_svg(f'<svg xmlns="{SVG_NS}"><marker id="m" orient="0.5turn"><rect/></marker></svg>')
    assert 'orient="180"' in result.svg


def test_style_rule_with_a_selector_cairosvg_cannot_compile_is_dropped():
    svg = (f'<svg xmlns="{SVG_NS}" width="9" height="9"><style>rect:unknown-state {{ fill: red }} '
           'rect { fill: blue }</style><rect width="9" height="9"/></svg>')
    result = sanitize_svg(svg)
    assert "css_rule" in codes(result) and "unknown-state" not in result.svg and "fill: blue" in result.svg
    png = cairosvg.svg2png(bytestring=result.svg.encode())  # raised SelectorError before
    assert Image.open(io.BytesIO(png)).convert("RGB").getpixel((4, 4)) == (0, 0, 255)


# --------------------------------------------------------------------------- embedded documents
def test_embedded_svg_documents_are_listed_sanitised_and_nested():
    deepest = f'<svg xmlns="{SVG_NS}" width="5" height="5"><text y="4">deep secret</text></svg>'
    middle = (f'<svg xmlns="{SVG_NS}" width="9" height="9"><script>x()</script><text y="8">Score: 120</text>'
              f'<image width="5" height="5" href="data:image/svg+xml;base64,{_b64(deepest.encode())}"/></svg>')
    uri = f"data:image/svg+xml;base64,{_b64(middle.encode())}"
    svg = (f'<svg xmlns="{SVG_NS}" width="20" height="20"><text y="9">outer</text>'
           f'<image width="9" height="9" href="{uri}"/><image x="10" width="9" height="9" href="{uri}"/></svg>')
    result = sanitize_svg(svg)
    assert len(result.embedded) == 2  # the middle one once (drawn twice), then the one inside it
    assert "Score: 120" in result.embedded[0] and "<script" not in result.embedded[0]
    assert "deep secret" in result.embedded[1]
    assert result.documents == (result.svg, *result.embedded)
    # Exactly the documents drawn: the outer SVG holds the middle one, re-encoded.
    assert _b64(result.embedded[0].encode()) in result.svg
    assert sanitize_svg("<svg><script/>").documents == (sanitize_svg("<svg><script/>").svg,)
    assert sanitize_svg("not svg").documents == ()


def test_clip_path_inherit_takes_the_parents_clip_as_cairosvg_does():
    clip = '<clipPath id="c">' + "<rect/>" * 600 + "</clipPath>"
    children = '<rect style="clip-path: inherit"/>' * 100
    result = sanitize_svg(f'<svg xmlns="{SVG_NS}"><defs>{clip}</defs><g clip-path="url(#c)">{children}</g></svg>')
    assert result.rejected and codes(result) == {"reference_expansion"}  # 101 clips of 601 elements
