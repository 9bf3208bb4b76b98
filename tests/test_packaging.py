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


def test_every_svgkit_package_is_listed_for_setuptools():
    """A subpackage missing from ``packages`` is silently left out of a non-editable install."""
    listed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    found = sorted(".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "svgkit").rglob("__init__.py"))
    assert sorted(listed) == found
