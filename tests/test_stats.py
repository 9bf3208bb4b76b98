"""svgkit.stats: category rules, term counts, per-prompt figures."""

from svgkit.dataset import Prompt
from svgkit.stats import categorize, estimate_tokens, prompt_stats, term_counts


def test_categorize_uses_whole_word_rules_in_order():
    assert categorize("Write `svg` code for a screenshot of a Trello board.").category == "ui"
    assert categorize("Write `svg` code for a bar chart of sales.").category == "chart"
    assert categorize("Write `svg` code for a diagram of the water cycle.").category == "diagram"
    assert categorize("Write `svg` code for a logo of a bakery.").category == "icon"
    formula = categorize("Write `svg` code for an image of a pit crew in a Formula 1 race.")
    assert formula.category == "scene" and formula.keyword is None  # "form" must not match "Formula"
    assert categorize("Write `svg` code for a network graph with nodes.").keyword == "network graph"


def test_term_counts_and_stats():
    prompts = [
        Prompt("a", "Write `svg` code for an image of a dog.", ("A red ball above a grey circle.",
                                                                "Red collar on the left.")),
        Prompt("b", "Write `svg` code for a screenshot of an app.", ("Gray header at the top.",), "ui"),
    ]
    terms = term_counts(prompts)
    assert terms.colours["red"] == 2 and terms.colours["gray"] == 2 and "grey" not in terms.colours
    assert terms.shapes["circle"] == 1 and terms.spatial["above"] == 1 and terms.spatial["left"] == 1
    stats = prompt_stats(prompts)
    assert [s.category for s in stats] == ["scene", "ui"]
    assert stats[0].n_requirements == 2 and stats[1].rule == "bundled label"
    assert stats[0].est_prompt_tokens > estimate_tokens(prompts[0].prompt)
    assert estimate_tokens("x" * 400) == 100
