"""svgkit.bench: SSIM, the stress set, the render benchmark and the evaluator benchmark (figures, not speed)."""

import re
import tempfile
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from svgkit import bench
from svgkit.dataset import load_examples
from svgkit.svg import extract_svg


def _picture(size=(64, 48)) -> Image.Image:
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    draw.rectangle((5, 5, 30, 40), fill="navy")
    draw.ellipse((28, 8, 60, 40), fill="orange", outline="black")
    draw.line((0, 47, 63, 0), fill="green", width=3)
    return img


def test_ssim_identical_is_one_inverse_is_low_and_symmetric():
    a = _picture()
    inverse = ImageOps.invert(a)
    assert bench.ssim(a, a.copy()) == pytest.approx(1.0)
    low = bench.ssim(a, inverse)
    assert low < 0.5
    assert bench.ssim(inverse, a) == pytest.approx(low)

    rng = np.random.default_rng(3)
    noisy_pixels = np.clip(np.asarray(a, dtype=np.int16) + rng.integers(-40, 41, (48, 64, 3)), 0, 255)
    noisy = Image.fromarray(noisy_pixels.astype(np.uint8))
    mid = bench.ssim(a, noisy)
    assert low < mid < 1.0  # a mild distortion sits between the two extremes
    assert bench.ssim(noisy, a) == pytest.approx(mid)


def test_ssim_rejects_different_sizes_and_handles_tiny_images():
    with pytest.raises(ValueError, match="differ in size"):
        bench.ssim(_picture((64, 48)), _picture((48, 64)))
    tiny = Image.new("L", (4, 4), 10)
    assert bench.ssim(tiny, tiny.copy()) == 1.0
    assert bench.ssim(tiny, Image.new("L", (4, 4), 11)) == 0.0


def test_stress_set_is_deterministic_per_seed_and_well_formed():
    first, again, other = bench.stress_set(seed=7), bench.stress_set(seed=7), bench.stress_set(seed=8)
    assert first == again
    assert first != other
    assert [name for name, _ in first] == [name for name, _ in other]  # same shapes of input, new content
    names = [name for name, _ in first]
    assert len(set(names)) == len(names)
    for name, svg in first:
        assert isinstance(name, str) and isinstance(svg, str)
        assert "<svg" in svg
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg", name


@pytest.fixture(scope="module")
def report():
    return bench.run_bench(workers=1, repeats=1)


def test_run_bench_counts_are_consistent(report):
    extractable = [ex for ex in load_examples() if extract_svg(ex.response).svg is not None]
    assert report.n_examples == len(extractable)
    assert report.n_inputs == report.n_examples + len(bench.stress_set())
    assert report.workers == 1
    assert 0 < report.pool_ok <= report.n_inputs
    assert 0 < report.raw_ok <= report.n_inputs
    for figure in (report.pool_median_ms, report.single_median_ms, report.raw_median_ms,
                   report.pool_svgs_per_s, report.raw_svgs_per_s):
        assert figure > 0
    assert report.throughput_ratio == pytest.approx(report.pool_svgs_per_s / report.raw_svgs_per_s)


def test_report_text_carries_the_figures(report):
    text = bench._report(report)
    assert f"{report.n_examples} bundled example responses" in text
    assert f"{report.n_inputs - report.n_examples} generated stress SVGs" in text
    assert f"{report.throughput_ratio:.2f}x" in text


def test_evaluator_bench_scores_every_bundled_example(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    lines = bench.evaluator_bench(runs=1)
    assert len(lines) == 1
    match = re.fullmatch(r"evaluator run 1: exit (\d+), (\d+) rows scored \((\d+) invalid\), "
                         r"mean score (\d\.\d{3}), wall ([\d.]+) s .*", lines[0])
    assert match, lines[0]
    exit_code, rows, invalid, mean, wall = match.groups()
    assert int(exit_code) == 0
    assert int(rows) == len(load_examples())
    assert int(invalid) == 0, "offline, no row can be invalid: the rule judge cannot fail, bad SVG scores a valid 0"
    assert 0.0 < float(mean) < 1.0
    assert float(wall) > 0
    assert not any(tmp_path.iterdir()), "the temporary output folder is removed afterwards"
