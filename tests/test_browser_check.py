"""svgkit.browser_check: what counts as a failure in the browser (the full check is make browser-check)."""

import pytest

from svgkit import browser_check

BANNER = "Mode: **OFFLINE**\n\n| step | mode | needs | what it does now |\n|---|---|---|---|\n| x | offline | - | - |"


def _cell(index, *outputs):
    return {"index": index, "count": index + 1, "outputs": list(outputs)}


def test_error_and_stderr_outputs_fail_and_the_banner_is_found():
    cells = [_cell(0, {"output_type": "execute_result", "data": {"text/markdown": BANNER}}),
             _cell(1, {"output_type": "stream", "name": "stdout", "text": "fine\n"}),
             _cell(2, {"output_type": "stream", "name": "stderr", "text": "UserWarning: careful\nmore\n"}),
             _cell(3, {"output_type": "error", "ename": "ValueError", "evalue": "boom", "traceback": []})]
    assert browser_check._has_banner(cells)
    assert browser_check._problems_in_outputs(cells) == [
        "cell 2: stderr output: UserWarning: careful", "cell 3: error output ValueError: boom"]
    assert not browser_check._has_banner(cells[1:]), "a notebook without its mode banner fails"


def test_chromium_flags_work_as_root_without_network():
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        assert flag in browser_check.CHROMIUM_FLAGS


def test_missing_browser_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install chromium chromium-driver"):
        browser_check.check_notebooks([tmp_path / "01_x.ipynb"], chromium=str(tmp_path / "no-chromium"),
                                      driver="", screenshots=tmp_path)
