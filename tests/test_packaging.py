"""pyproject.toml and environment.yml must list the same runtime dependencies."""

import re
import tomllib

from conftest import REPO


def test_environment_yml_matches_pyproject():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    env = (REPO / "environment.yml").read_text()
    pip_section = env.split("- pip:", 1)[1]
    listed = [m.group(1).strip() for m in re.finditer(r"^\s+- (?!-e )([^#\n]+)", pip_section, re.M)]
    assert sorted(listed) == sorted(declared)
    assert "python=3.11" in env and "- cairo" in env and "fonts-liberation" in env


def test_packaging_metadata_gives_setuptools_nothing_to_warn_about():
    """Every svgkit folder with files is listed: a subpackage missing from ``packages`` is silently left
    out of a non-editable install, and an unlisted data folder makes setuptools warn at install time."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert isinstance(project["project"]["license"], str), "an SPDX string, not the deprecated TOML table"
    listed = sorted(project["tool"]["setuptools"]["packages"])
    folders = sorted(".".join(p.relative_to(REPO).parts) for p in [REPO / "svgkit", *(REPO / "svgkit").rglob("*")]
                     if p.is_dir() and p.name != "__pycache__" and any(f.is_file() for f in p.iterdir()))
    assert listed == folders
    build = project["build-system"]["requires"]
    assert any(r.startswith("setuptools>=77") for r in build), "SPDX license strings need setuptools 77"


def test_browser_check_dependency_is_an_extra_not_a_base_dependency():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert any(d.startswith("selenium") for d in project["optional-dependencies"]["browser"])
    assert not any(d.startswith(("selenium", "playwright")) for d in project["dependencies"])
