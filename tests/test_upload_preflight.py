"""The free preflight: the staged bundle runs from its own folder in a venv built from its requirements only.

The venv is cached by the hash of requirements.txt in the user cache folder, so only the first
run on a machine builds it (a minute or two, from pip's cache).
"""

import shutil

import pytest

from svgkit.upload import preflight, stage_bundle
from svgkit.upload.local_test import docker_status, preflight_command

#: Rows scored per test run (the notebook scores all 86).
ROWS = 6


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    return stage_bundle(tmp_path_factory.mktemp("preflight") / "bundle")


@pytest.fixture(scope="module")
def passed(staged):
    return preflight(staged.root, max_rows=ROWS)


def test_bundle_passes_in_its_own_venv_importing_svgkit_from_the_bundle(passed, staged):
    assert passed.status == "passed", passed.reason + "\n" + passed.output_tail
    assert passed.ok and passed.returncode == 0
    assert passed.imported_from_bundle
    assert passed.bundle_sha256 == staged.sha256
    assert len(passed.scores) == ROWS and passed.n_valid == ROWS
    assert 0 < passed.mean_score <= 1
    assert passed.command == ("python", "-m", "pytest", "--ep-success-threshold", "0.001",
                              "test_svg_drawing.py::test_svg_drawing", "-vs")
    assert preflight_command() == passed.command


def test_preflight_leaves_the_bundle_as_staged(passed, staged):
    from svgkit.upload import read_bundle

    assert read_bundle(staged.root).sha256 == staged.sha256


def test_second_run_reuses_the_cached_venv(passed, staged):
    again = preflight(staged.root, max_rows=2)
    assert again.venv.reused and again.venv.key == passed.venv.key and again.venv.seconds == 0
    assert again.ok


def test_missing_cairo_is_an_infrastructure_failure_with_the_reason(staged, tmp_path):
    stub = tmp_path / "stub" / "cairocffi"
    stub.mkdir(parents=True)
    # what cairocffi raises where the cairo C library is not installed
    (stub / "__init__.py").write_text('raise OSError(\'no library called "cairo-2" was found\')\n')
    result = preflight(staged.root, max_rows=3, extra_env={"PYTHONPATH": str(stub.parent)})
    assert result.status == "infrastructure failure", result.reason
    assert not result.ok
    assert "the cairo library cannot be loaded" in result.reason and "libcairo2" in result.reason
    # every answer that needed drawing is invalid (never a zero held against it); a truncated
    # answer, which needs no drawing, keeps its valid 0
    drawn = [s for s in result.scores if "format_rendered" in s.metrics]
    assert drawn and not any(s.valid for s in drawn)
    assert all(s.score == 0 for s in result.scores)
    assert any("cairo-2" in n for n in result.notes)


def test_a_bundle_missing_a_module_fails_the_preflight(staged, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(staged.root, broken)
    (broken / "svgkit" / "reward.py").unlink()
    result = preflight(broken, max_rows=2)
    assert result.status == "failed" and not result.scores
    assert "reward" in result.output_tail


def test_docker_status_says_why_it_is_unavailable(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    status = docker_status()
    assert not status.available and "no working Docker here" in status.detail


def test_collection_with_keys_set_reports_an_evaluator_that_breaks_with_them(staged, passed, tmp_path):
    assert passed.live_collection  # it ran
    tampered = tmp_path / "tampered"
    shutil.copytree(staged.root, tampered)
    entry = tampered / "test_svg_drawing.py"
    entry.write_text('import os\nif os.environ.get("FIREWORKS_API_KEY"):\n'
                     '    raise RuntimeError("breaks when the key is set")\n' + entry.read_text())
    result = preflight(tampered, max_rows=1)
    assert result.ok  # the offline run has no key: it passes
    assert "RuntimeError: breaks when the key is set" in result.live_collection
    assert "placeholder" not in result.table()


def test_the_reward_names_a_missing_cairo_as_the_machines_fault(tmp_path, monkeypatch):
    from svgkit.render import shutdown_workers
    from svgkit.reward import score_response

    stub = tmp_path / "cairocffi"
    stub.mkdir()
    (stub / "__init__.py").write_text('raise OSError(\'no library called "cairo-2" was found\')\n')
    shutdown_workers()  # the next render starts workers with this environment
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    try:
        svg = '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="4" height="4"/></svg>'
        result = score_response(f"```svg\n{svg}\n```", ["a black square"])
    finally:
        shutdown_workers()
    assert result.score == 0 and not result.is_score_valid
    assert "the cairo library cannot be loaded" in result.reason and "cairo-2" in result.reason
    assert result.metrics["format_rendered"].data["failure"] == "infrastructure"
