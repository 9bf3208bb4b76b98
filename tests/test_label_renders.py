"""The bundled labels describe today's renders: a render change sends the examples back for review."""

import hashlib
import json
import re
from pathlib import Path

import pytest

from svgkit.calibrate import (
    LabelDrift,
    label_drift,
    refresh_label_hashes,
    render_setup_sha256,
    render_sha256,
    stored_render_setup_sha256,
)
from svgkit.dataset import examples_to_rows, load_bundled_prompts, load_examples
from svgkit.render import render_many, render_png, shutdown_workers
from svgkit.svg import extract_svg

DATA = Path(__file__).resolve().parents[1] / "svgkit" / "data"
HOW_TO_RELABEL = (
    "Look at each again: `python -m svgkit.calibrate --relabel-check --png-dir /tmp/relabel` writes their "
    "current renders; relabel them in svgkit/data/examples.jsonl by the rules in svgkit/data/README.md "
    "(record each change in label_notes), then `python -m svgkit.calibrate --refresh-render-hashes` "
    "and recompute the calibration figures in the README."
)


def test_labels_were_made_on_the_current_renders():
    here, stored = render_setup_sha256(), stored_render_setup_sha256()
    if here != stored:
        pytest.skip(f"this machine draws the render probe differently (sha256 {here[:12]}, labels made where it is "
                    f"{(stored or 'unknown')[:12]}): other fonts or cairo, so the render hashes cannot be compared "
                    "here. The reference setup is `make setup` on Debian 12 (fonts-liberation, libcairo2), as CI.")
    drift = label_drift()
    assert not drift, (
        f"{len(drift)} labelled example(s) now render differently from the picture their labels were made on: "
        + "; ".join(str(d) for d in drift) + ". " + HOW_TO_RELABEL)


def test_every_example_stores_the_hash_of_what_it_draws():
    for ex in load_examples():
        extraction = extract_svg(ex.response)
        draws = bool(extraction.svg) and not extraction.truncated
        if draws:
            assert re.fullmatch(r"[0-9a-f]{64}", ex.labelled_png_sha256 or ""), ex.example_id
        else:
            assert ex.labelled_png_sha256 is None and not any(ex.labels), ex.example_id


def test_drift_names_the_examples_whose_picture_changed():
    examples = {e.example_id: e for e in load_examples()}
    base = examples["sc06-a"]
    records = [
        {"example_id": "same", "response": base.response, "labelled_png_sha256": base.labelled_png_sha256},
        {"example_id": "recoloured", "response": base.response.replace("#d62828", "#2828d6"),
         "labelled_png_sha256": base.labelled_png_sha256},
        {"example_id": "gone", "response": "I would rather describe it in words.",
         "labelled_png_sha256": base.labelled_png_sha256},
        {"example_id": "now-draws", "response": examples["ic04-a"].response, "labelled_png_sha256": None},
    ]
    assert "#d62828" in base.response  # the scarf colour, so the recoloured answer draws another picture
    drift = {d.example_id: d for d in label_drift(records)}
    assert sorted(drift) == ["gone", "now-draws", "recoloured"]
    assert drift["gone"] == LabelDrift("gone", base.labelled_png_sha256, None)
    assert drift["now-draws"].current_png_sha256 == examples["ic04-a"].labelled_png_sha256
    assert drift["recoloured"].current_png_sha256 not in (None, base.labelled_png_sha256)
    assert "nothing drawn" in str(drift["gone"]) and str(drift["recoloured"]).startswith("recoloured (labelled on ")


def test_renders_are_byte_identical_on_fresh_workers_and_in_batches():
    examples = {e.example_id: e for e in load_examples()}
    svgs = [extract_svg(examples[i].response).svg for i in ("sc03-b", "ui01-a", "dg07-c", "ic02-a")]
    first = [render_png(s).png for s in svgs]
    probe = render_setup_sha256()
    shutdown_workers()  # the next renders start new worker processes (new fontconfig, new cairo state)
    again = [render_png(s).png for s in svgs]
    batch = [r.png for r in render_many(svgs, workers=2, progress=False)]
    assert all(first) and first == again == batch
    assert render_setup_sha256() == probe
    assert [hashlib.sha256(p).hexdigest() for p in first] == [render_sha256(examples[i].response) for i in
                                                              ("sc03-b", "ui01-a", "dg07-c", "ic02-a")]


def test_refresh_rewrites_only_the_hashes(tmp_path):
    lines = (DATA / "examples.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    kept, stale, missing, empty = lines[0], lines[1], lines[30], lines[2]  # sc01-a, sc01-b, ui03-b (has °), sc01-c
    stale_row = json.loads(stale)
    stale_row["labelled_png_sha256"] = "0" * 64
    missing_row = json.loads(missing)
    del missing_row["labelled_png_sha256"]
    path = tmp_path / "examples.jsonl"
    path.write_text(kept + json.dumps(stale_row, ensure_ascii=False) + "\n"
                    + json.dumps(missing_row, ensure_ascii=False) + "\n" + empty, encoding="utf-8")
    setup_before = (DATA / "label_renders.json").read_bytes()
    changed = refresh_label_hashes(path)
    assert changed == [stale_row["example_id"], missing_row["example_id"]]
    assert path.read_text(encoding="utf-8") == kept + stale + missing + empty  # byte for byte, key order kept
    assert (DATA / "label_renders.json").read_bytes() == setup_before  # only the bundled refresh records the setup


def test_eval_protocol_rows_do_not_carry_the_hash():
    rows = examples_to_rows(load_examples(), load_bundled_prompts())
    info = rows[0]["input_metadata"]["dataset_info"]
    assert set(info) >= {"example_id", "labels", "quality", "faults"}
    assert not any("labelled_png_sha256" in json.dumps(r) for r in rows)
