"""The README says what the code does: its mode table is checked against svgkit.config and its behaviour."""

import re

import pytest
from conftest import REPO

from svgkit.config import PAID_STEPS, STEP_KEYS, STEPS, MissingKeyError, get_settings, with_spending

KEY = "sk-test-readme"


def _table(heading: str) -> list[dict[str, str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rest = section[section.index("\n|") + 1:]
    lines = [line for line in rest.split("\n\n", 1)[0].splitlines()]  # the section's first table
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(head, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[2:]]


MODE_ROWS = _table("Offline and live")


def _plain(cell: str) -> str:
    return cell.replace("\\|", "|")


def test_mode_table_lists_every_step_with_the_code_s_words():
    assert [row["step"].split()[0] for row in MODE_ROWS] == list(STEPS)
    for row in MODE_ROWS:
        spec = STEPS[row["step"].split()[0]]
        assert _plain(row["live does"]) == spec.live
        assert _plain(row["offline does"]) == spec.offline


@pytest.mark.parametrize("row", MODE_ROWS, ids=lambda r: r["step"].split()[0])
def test_mode_table_needs_column_is_what_happens(row):
    step = row["step"].split()[0]
    needs = row["live needs"]
    keys = set(re.findall(r"`([A-Z_]+_API_KEY)`", needs))
    every_key = {name for names in STEP_KEYS.values() for name in names}
    assert get_settings({}, read_dotenv=False).mode(step) == "offline", "no key: offline"
    if step in PAID_STEPS:
        assert "ALLOW_SPEND" in needs
        assert keys == set(STEP_KEYS[STEPS[step].key]), "the README names exactly the keys the code reads"
        for key in keys:
            settings = get_settings({key: KEY}, read_dotenv=False)
            assert with_spending(True, settings).mode(step) == "live"
            assert with_spending(False, settings).mode(step) == "offline", "held back without ALLOW_SPEND"
        with pytest.raises(MissingKeyError):
            with_spending(True, get_settings({"SVGKIT_MODE": "live"}, read_dotenv=False)).mode(step)
    else:
        assert "ALLOW_SPEND" not in needs and "network" in needs
        assert get_settings({"SVGKIT_MODE": "live"}, read_dotenv=False).mode(step) == "live", "no key needed"
        if "any key" in needs:
            for key in every_key:
                assert get_settings({key: KEY}, read_dotenv=False).mode(step) == "live"


def test_readme_names_the_commands_the_makefile_has():
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for target in re.findall(r"`make ([a-z-]+)`", readme):
        assert re.search(rf"^{target}:", makefile, re.M), f"README mentions make {target}: no such Makefile target"
    for target in ("tutorial", "test", "lab", "notebooks", "browser-check"):
        assert f"make {target}" in readme


def test_the_rule_judges_calibration_figures_are_notebook_02s():
    """The README quotes the calibration that notebook 02 saves (nbval proves the notebook matches the code)."""
    import json

    nb = json.loads((REPO / "notebooks" / "02_local_evaluation.ipynb").read_text(encoding="utf-8"))
    outputs = "".join(o.get("text", "") if isinstance(o.get("text"), str) else "".join(o.get("text", []))
                      for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", []))
    m = re.search(r"rule: \d+ requirements of \d+ answers; accuracy ([\d.]+), kappa ([\d.]+).*?decided (\d+)% "
                  r"\(accuracy there ([\d.]+)\); score MAE [\d.]+, bias ([-+\d.]+)", outputs)
    assert m, "notebook 02 shows the rule judge's calibration summary"
    acc, kappa, decided, there, bias = (float(g) for g in m.groups())
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert f"agrees with the labels on {acc * 100:.0f}% of requirements" in readme
    assert f"Cohen's kappa {kappa:.2f}; {there * 100:.1f}% on the {decided:.0f}% it decides" in readme
    assert f"score bias {bias:+.2f}" in readme
