"""svgkit.pricing: the one price lookup, token costs, and estimates before a run."""

import pytest

from svgkit.config import MODELS, PRICES
from svgkit.pricing import CostEstimate, estimate_cost, price_of, token_cost


def test_price_lookup_is_exact_or_without_a_litellm_prefix():
    fw = "accounts/fireworks/models/gpt-oss-120b"
    assert price_of(fw) == PRICES[fw]
    assert price_of(MODELS.litellm_fireworks_prefix + fw) == PRICES[fw]
    assert price_of("openai/gpt-4.1") == PRICES["gpt-4.1"]
    assert price_of("gpt-oss-120b") is None  # no guessing from the last path segment
    assert price_of("accounts/me/models/gpt-4.1") is None
    assert price_of("qwen3:0.6b", {"qwen3:0.6b": (0, 0)}) == (0, 0)


def test_token_cost_is_unknown_not_free_for_a_model_without_a_price():
    assert token_cost("gpt-4.1", 1_000_000, 0) == PRICES["gpt-4.1"][0]
    assert token_cost("gpt-4.1", 1000, 500) == pytest.approx((1000 * 2.00 + 500 * 8.00) / 1e6)
    assert token_cost("qwen3:0.6b", 1000, 500) is None
    assert token_cost("qwen3:0.6b", 1000, 500, prices={"qwen3:0.6b": (0, 0)}) == 0


def test_estimate_cost_arithmetic_and_display():
    est = estimate_cost(10, samples=4, model="accounts/fireworks/models/gpt-oss-120b", judge_model="gpt-4.1",
                        prompt_tokens=200, completion_tokens=1000, judge_input_tokens=1000,
                        judge_output_tokens=100)
    assert isinstance(est, CostEstimate)
    assert est.generation_calls == est.judge_calls == 40
    gin, gout = PRICES["accounts/fireworks/models/gpt-oss-120b"]
    jin, jout = PRICES["gpt-4.1"]
    assert est.generation_usd == pytest.approx((40 * 200 * gin + 40 * 1000 * gout) / 1e6)
    assert est.judge_usd == pytest.approx((40 * 1000 * jin + 40 * 100 * jout) / 1e6)
    assert est.total_usd == pytest.approx(est.generation_usd + est.judge_usd)
    assert est.unpriced == ()
    text = str(est)
    assert text.startswith(f"Estimated cost of 10 rows x 4 samples: ${est.total_usd:,.4f}")
    assert "gpt-4.1" in text and "no price" not in text
    assert "<table>" in est._repr_html_()


def test_estimate_cost_defaults_and_the_rule_judge():
    est = estimate_cost(5)
    assert est.model == MODELS.eval_policy and est.judge_model == MODELS.judge and est.total_usd > 0
    assert estimate_cost(5, judge_calls_per_sample=3).judge_calls == 15
    free = estimate_cost(5, samples=2, judge_model=None)
    assert free.judge_calls == 0 and free.judge_usd == 0 and "rule judge (no calls)" in str(free)
    with pytest.raises(ValueError, match="0 or more"):
        estimate_cost(-1)


def test_an_unpriced_model_makes_the_estimate_unknown_and_says_how_to_price_it():
    est = estimate_cost(5, model="qwen3:0.6b")
    assert est.generation_usd is None and est.total_usd is None and est.judge_usd > 0
    assert est.unpriced == ("qwen3:0.6b",)
    text = str(est)
    assert text.startswith("Estimated cost of 5 rows x 1 sample: unknown")
    assert "no price for 'qwen3:0.6b' in svgkit.config.PRICES" in text and "prices=" in text
    assert "no price for &#x27;qwen3:0.6b&#x27;" in est._repr_html_()
    local = estimate_cost(5, model="qwen3:0.6b", judge_model=None, prices={"qwen3:0.6b": (0, 0)})
    assert local.total_usd == 0 and local.unpriced == ()
