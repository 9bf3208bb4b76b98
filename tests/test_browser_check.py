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


class _FlakyDriver:
    """A WebDriver whose first screenshot meets headless Chromium's lost viewport."""

    def __init__(self, message):
        self.message, self.calls, self.sizes = message, 0, []

    def set_window_size(self, width, height):
        self.sizes.append((width, height))

    def save_screenshot(self, path):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError(self.message)  # selenium raises WebDriverException (not installed by make setup)
        return True


def test_a_lost_viewport_is_restored_and_the_screenshot_taken_again(tmp_path, monkeypatch):
    monkeypatch.setattr(browser_check.time, "sleep", lambda s: None)
    driver = _FlakyDriver("unknown error: Cannot take screenshot with 0 width.")
    assert browser_check._page_shot(driver, tmp_path / "x.png") == tmp_path / "x.png"
    assert driver.calls == 2 and driver.sizes == [browser_check.WINDOW_SIZE]
    assert f"--window-size={browser_check.WINDOW_SIZE[0]},{browser_check.WINDOW_SIZE[1]}" in \
        browser_check.CHROMIUM_FLAGS
    with pytest.raises(RuntimeError, match="no such window"):  # other browser errors still fail the check
        browser_check._page_shot(_FlakyDriver("no such window"), tmp_path / "y.png")


def test_a_broken_step_is_reported_with_where_it_stopped():
    def step():
        raise RuntimeError("Message: unknown error: Cannot take screenshot with 0 width.\nStacktrace:\n#0 0x55d5")

    with pytest.raises(RuntimeError) as raised:
        step()
    message = "RuntimeError: Message: unknown error: Cannot take screenshot with 0 width."
    assert browser_check._describe(raised.value) == message
    with pytest.raises(RuntimeError) as raised:
        browser_check._page_shot(_FlakyDriver("no such window"), None)
    assert browser_check._describe(raised.value).startswith("RuntimeError in _screenshot (line ")
