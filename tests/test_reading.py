"""Reading pictures and sentences: the helpers the guards and the rule judge share."""

import numpy as np

from svgkit.reading import (
    all_words,
    content_words,
    element_text,
    load_rgb,
    local_name,
    normalise_text,
    parse_svg_tree,
    quoted_phrases,
    svg_texts,
)
from svgkit.render import render_png


def test_svg_texts_joins_tspans_in_document_order():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg"><text>A red barn stands</text>'
           '<text>in the <tspan>centre of the image</tspan></text><text>  </text><text>OK</text></svg>')
    assert svg_texts(svg) == ["A red barn stands", "in the centre of the image", "OK"]
    assert svg_texts("") == [] and svg_texts("not xml at all <<<") == []


def test_parse_svg_tree_never_expands_entities_and_recovers():
    svg = '<!DOCTYPE svg [<!ENTITY x "EXPANDED">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>'
    root = parse_svg_tree(svg)
    assert "EXPANDED" not in element_text(root)
    broken = parse_svg_tree('<svg xmlns="http://www.w3.org/2000/svg"><g><rect/></svg>')
    assert [local_name(el.tag) for el in broken.iter()] == ["svg", "g", "rect"]
    assert local_name(root.tag) == "svg"


def test_load_rgb_composites_transparency_on_white():
    res = render_png('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10">'
                     '<rect width="10" height="10" fill="#ff0000"/></svg>')
    rgb = load_rgb(res.png)
    assert rgb.shape == (10, 20, 3) and rgb.dtype == np.uint8
    assert tuple(rgb[5, 2]) == (255, 0, 0) and tuple(rgb[5, 15]) == (255, 255, 255)


def test_sentence_helpers():
    assert normalise_text("It\u2019s  \u201cBIG\u201d\u2014ok\u2026") == 'it\'s "big"-ok...'
    assert content_words("The barn is RED and the sky is blue") == ["barn", "red", "sky", "blue"]
    assert all_words("The barn") == ["the", "barn"]
    assert quoted_phrases("reads 'Sign in', \"Go\", \u2018Home\u2019 and \u201cHelp\u201d; don't split") == [
        "Sign in", "Go", "Home", "Help"]
