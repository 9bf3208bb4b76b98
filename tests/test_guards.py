"""Hack guards: a blank canvas, a tiny drawing, requirements written out as text."""

from svgkit.guards import ink_stats, spelled_out_texts, written_requirements
from svgkit.render import render_png

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">{body}</svg>'


def png(body: str, w: int = 300, h: int = 200) -> bytes:
    res = render_png(SVG.format(w=w, h=h, body=body))
    assert res.ok, res.error
    return res.png


def test_ink_stats_blank_tiny_and_normal():
    blank = ink_stats(png('<rect width="300" height="200" fill="#fafafa"/>'))
    tiny = ink_stats(png('<circle cx="400" cy="300" r="30" fill="red"/>', 800, 600))
    normal = ink_stats(png('<rect width="300" height="200" fill="#87ceeb"/>'
                           '<rect x="20" y="120" width="260" height="60" fill="#2e8b57"/>'
                           '<circle cx="250" cy="40" r="25" fill="#ffd700"/>'))
    assert blank.blank and blank.ink_share < 0.002 and blank.bbox is None
    assert tiny.tiny and not tiny.blank and tiny.bbox_share < 0.02
    assert not normal.blank and not normal.tiny and normal.bbox_share > 0.3
    assert normal.background != (255, 255, 255)  # the sky covers the canvas


def test_ink_stats_near_uniform_noise_is_blank():
    stats = ink_stats(png('<rect width="300" height="200" fill="#336699"/><circle cx="10" cy="10" r="2" '
                          'fill="#336698"/>'))
    assert stats.blank and stats.background[2] > 140


def test_ink_stats_thresholds_are_options():
    picture = png('<circle cx="150" cy="100" r="12" fill="red"/>')
    assert not ink_stats(picture).blank
    assert ink_stats(picture, min_ink_share=0.5).blank
    assert ink_stats(picture, tiny_drawing_share=0.5).tiny


def test_written_requirements_and_prompt():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><text>A red barn stands</text>'
           '<text>in the <tspan>centre of the image</tspan></text><text>OK</text></svg>')
    written, prompt_written = written_requirements(
        svg, ["A red barn stands in the centre of the image.", "The button reads 'OK'.",
              "A blue pond lies on the left."], prompt="Write `svg` code for an image of a red barn.")
    assert written == (0,)
    assert not prompt_written
    _, prompt_written = written_requirements(
        svg.replace("A red barn stands", "A red farmhouse beside a quiet pond on a sunny summer day"), [],
        prompt="Write `svg` code for an image of a red farmhouse beside a quiet pond on a sunny summer day.")
    assert prompt_written


def test_labels_in_a_row_do_not_chain_into_a_written_sentence():
    texts = ["New Moon", "First Quarter", "Full Moon", "Last Quarter"]
    req = "From left to right the phases are new moon, first quarter, full moon and last quarter."
    assert written_requirements(None, [req], texts=texts) == ((), False)
    assert written_requirements(None, [req], texts=[" ".join(texts)]) == ((0,), False)


def test_no_text_means_nothing_written():
    assert written_requirements('<svg xmlns="http://www.w3.org/2000/svg"/>', ["A red barn."]) == ((), False)
    assert written_requirements(None, ["A red barn stands in the field."]) == ((), False)


def test_spelled_out_texts_are_the_elements_doing_it():
    reqs = ["A green button reads 'Sign in' and sits below the form.", "The title reads 'Welcome'."]
    texts = ["A green button reads Sign in and sits below the form", "Welcome", "Sign in"]
    assert spelled_out_texts(texts, reqs) == frozenset({texts[0]})
    assert spelled_out_texts(["Welcome", "Sign in"], reqs) == frozenset()
