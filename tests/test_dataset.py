"""svgkit.dataset: download with checksum and cache, load_prompts by mode, upstream row format, split, validation."""

import hashlib
import json

import pytest

from svgkit import dataset
from svgkit.dataset import (
    DownloadError,
    Prompt,
    RowValidationError,
    load_bundled_prompts,
    load_examples,
    load_prompts,
    load_svgbench,
    read_rows,
    split_prompts,
    to_eval_rows,
    validate_rows,
    write_rows,
)
from svgkit.standin import Response, StandinServer

FAKE = json.dumps([{"prompt": f"Write `svg` code for an image of thing {i}.",
                    "requirements": [f"Draw thing {i} in red.", "Add a blue sky."]} for i in range(3)]).encode()


PATH = "/questions.json"


def _file(body: bytes) -> Response:
    return Response.text(body, content_type="application/json")


@pytest.fixture
def server(standin):
    """The stand-in serving FAKE at PATH (``push`` another answer for the next request)."""
    standin.add_route("GET", PATH, lambda request: _file(FAKE))
    return standin


def _load(server, tmp_path, **kw):
    return load_svgbench(url=server.url + PATH, sha256=hashlib.sha256(FAKE).hexdigest(), expected_bytes=None,
                         cache_dir=tmp_path / "cache", timeout=5, **kw)


def test_download_checks_sha_and_caches_then_serves_from_cache(server, tmp_path):
    first = _load(server, tmp_path)
    second = _load(server, tmp_path)
    assert first.source == "svgbench-download" and second.source == "svgbench-cache"
    assert len(server.requests) == 1, "the second load must not touch the network"
    assert [p.prompt for p in second.prompts] == [p.prompt for p in first.prompts]
    assert second.prompts[2].id == "svgbench-2" and second.prompts[2].requirements[0] == "Draw thing 2 in red."
    assert dataset.svgbench_cache_path(tmp_path / "cache").read_bytes() == FAKE


def test_checksum_mismatch_raises_when_strict_and_caches_nothing(server, tmp_path):
    server.push(*[_file(FAKE.replace(b"red", b"RED"))] * 2)
    with pytest.raises(DownloadError, match="checksum mismatch"):
        _load(server, tmp_path, strict=True)
    fallback = _load(server, tmp_path)
    assert not dataset.svgbench_cache_path(tmp_path / "cache").exists()
    assert not list((tmp_path / "cache").rglob("*.part"))
    assert fallback.source == "bundled" and "checksum mismatch" in fallback.notice


def test_partial_download_is_an_error_and_caches_nothing(server, tmp_path):
    server.push(Response.truncated(_file(FAKE), after_bytes=100))
    with pytest.raises(DownloadError, match="could not download SVGBench.*IncompleteRead"):
        _load(server, tmp_path, strict=True)
    assert not dataset.svgbench_cache_path(tmp_path / "cache").exists()


def test_no_network_falls_back_to_bundled_with_one_line_notice(tmp_path):
    with StandinServer() as gone:
        url = gone.url + PATH
    # the server is now shut down: the port refuses connections, as with no network
    result = load_svgbench(url=url, cache_dir=tmp_path / "c", timeout=2)
    assert result.source == "bundled"
    assert len(result.prompts) == len(load_bundled_prompts()) >= 30
    assert "\n" not in result.notice and "bundled" in result.notice
    with pytest.raises(DownloadError, match="could not download"):
        load_svgbench(url=url, cache_dir=tmp_path / "c", timeout=2, strict=True)


def test_tampered_cache_is_replaced(server, tmp_path):
    path = dataset.svgbench_cache_path(tmp_path / "cache")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"[]")
    result = _load(server, tmp_path)
    assert result.source == "svgbench-download" and len(server.requests) == 1
    assert path.read_bytes() == FAKE


def test_real_svgbench_file_passes_the_pinned_checksum(server, tmp_path, shared_dir):
    server.push(_file((shared_dir / "data/svgbench/questions.json").read_bytes()))
    result = load_svgbench(url=server.url + PATH, cache_dir=tmp_path, strict=True)
    assert result.source == "svgbench-download" and len(result.prompts) == 105
    assert sum(len(p.requirements) for p in result.prompts) == 926


def test_rows_reproduce_the_upstream_quickstart_file_exactly(tmp_path, shared_dir):
    prompts = dataset._parse_questions((shared_dir / "data/svgbench/questions.json").read_bytes())
    reference = (shared_dir / "data/quickstart/svgbench_dataset.jsonl").read_text(encoding="utf-8")
    rows = to_eval_rows(prompts[:50])
    assert len(rows) == 50
    assert rows == [json.loads(line) for line in reference.splitlines()]
    written = write_rows(rows, tmp_path / "train.jsonl")
    assert written.read_text(encoding="utf-8") == reference  # byte-for-byte, including non-ASCII text


def test_svgbench_split_matches_upstream_and_flags_98_99(shared_dir):
    prompts = dataset._parse_questions((shared_dir / "data/svgbench/questions.json").read_bytes())
    split = split_prompts(prompts)
    assert [p.index for p in split.train] == list(range(50))
    assert [p.index for p in split.holdout] == list(range(50, 105))
    assert [(a, b) for a, b, _ in split.near_duplicates] == [("svgbench-98", "svgbench-99")]


def test_bundled_split_is_deterministic_and_covers_every_category():
    prompts = load_bundled_prompts()
    a, b = split_prompts(prompts), split_prompts(prompts)
    assert a == b
    assert {p.id for p in a.train}.isdisjoint({p.id for p in a.holdout})
    assert len(a.train) + len(a.holdout) == len(prompts)
    assert {p.category for p in a.train} == {p.category for p in a.holdout} == {p.category for p in prompts}


def test_bundled_data_is_consistent():
    prompts = {p.id: p for p in load_bundled_prompts()}
    examples = load_examples()
    assert len(prompts) >= 30
    assert all(7 <= len(p.requirements) <= 12 for p in prompts.values())
    for ex in examples:
        assert len(ex.labels) == len(prompts[ex.prompt_id].requirements), ex.example_id
    per_prompt = {pid: sum(ex.prompt_id == pid for ex in examples) for pid in prompts}
    assert set(per_prompt.values()) <= {2, 3}
    faults = {f for ex in examples for f in ex.faults}
    assert {"no_code_block", "invalid_xml", "truncated", "think", "missing_elements", "wrong_colours"} <= faults


def test_validation_reports_line_numbers(tmp_path):
    good = to_eval_rows([Prompt("x", "Write `svg` code for a dot.", ("A red dot.",), None, 0)])[0]
    bad_total = json.loads(json.dumps(good))
    bad_total["input_metadata"]["dataset_info"]["total_requirements"] = 3
    bad_total["input_metadata"]["row_id"] = "row_1"
    no_reqs = json.loads(json.dumps(good))
    no_reqs["input_metadata"]["row_id"] = "row_9"
    del no_reqs["input_metadata"]["dataset_info"]["requirements"]
    path = tmp_path / "rows.jsonl"
    lines = [json.dumps(good), "{not json", json.dumps(bad_total), json.dumps(no_reqs), json.dumps(good)]
    path.write_text("\n".join(lines) + "\n")
    problems = validate_rows(path)
    by_line = {p.line: p.message for p in problems}
    assert set(by_line) == {2, 3, 4, 5}
    assert "duplicate row_id 'row_0' (first on line 1)" in by_line[5]
    assert "not valid JSON" in by_line[2]
    assert "total_requirements is 3 but there are 1" in by_line[3]
    assert "requirements" in by_line[4]
    with pytest.raises(RowValidationError, match="line 2"):
        read_rows(path)
    with pytest.raises(FileNotFoundError, match="notebook 01"):
        read_rows(tmp_path / "missing.jsonl")


def test_write_rows_refuses_invalid_rows_and_writes_nothing(tmp_path):
    with pytest.raises(RowValidationError, match="line 1"):
        write_rows([{"messages": []}], tmp_path / "x.jsonl")
    assert not (tmp_path / "x.jsonl").exists()


def test_example_rows_carry_the_answer_and_labels():
    prompts = load_bundled_prompts()
    examples = load_examples()
    rows = dataset.examples_to_rows(examples[:2], prompts)
    assert [m["role"] for m in rows[0]["messages"]] == ["user", "assistant"]
    assert rows[0]["messages"][1]["content"] == examples[0].response
    assert rows[0]["input_metadata"]["row_id"] == examples[0].example_id
    assert rows[0]["input_metadata"]["dataset_info"]["labels"] == list(examples[0].labels)


def test_a_larger_file_than_pinned_is_refused_without_reading_it_all(server, tmp_path):
    server.push(_file(FAKE + b" " * 5_000_000))
    with pytest.raises(DownloadError, match=f"expected {len(FAKE)}"):
        load_svgbench(url=server.url + PATH, sha256=hashlib.sha256(FAKE).hexdigest(), expected_bytes=len(FAKE),
                      cache_dir=tmp_path, timeout=5, strict=True)
    assert not dataset.svgbench_cache_path(tmp_path).exists()


# --------------------------------------------------------------------------- load_prompts: the mode decides
QUESTIONS = json.loads(FAKE)


def _live_kwargs(server, tmp_path):
    return {"url": f"{server.url}{PATH}", "sha256": hashlib.sha256(FAKE).hexdigest(),
            "expected_bytes": len(FAKE), "cache_dir": tmp_path / "cache", "timeout": 5}


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
    assert dataset.svgbench_cache_path(tmp_path / "cache").read_bytes() == FAKE


def test_load_prompts_live_passes_strict_and_size_check_through(server, tmp_path):
    kwargs = {**_live_kwargs(server, tmp_path), "expected_bytes": len(FAKE) + 1}
    with pytest.raises(DownloadError, match=f"expected {len(FAKE) + 1}"):
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
