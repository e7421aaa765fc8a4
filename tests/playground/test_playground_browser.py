"""The playground in a real browser: Debian's chromium, driven by Playwright.

Skips, saying why, only where Playwright or a chromium cannot be found (.ci/run installs both).
With BACKPROPLAB_SCREENSHOT=PATH the page is also saved there (the README's
docs/playground.png comes from this test).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import pytest

pytest.importorskip("uvicorn", reason="the playground extra is not installed")
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Playwright for Python is not installed (pip install "
                                      "playwright)")
CHROMIUM = next((p for p in (os.environ.get("BACKPROPLAB_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser"), "/usr/bin/chromium")
                 if p and os.path.exists(p)), None)
if CHROMIUM is None:
    pytest.skip("no chromium on this machine (apt-get install chromium)", allow_module_level=True)

pytestmark = pytest.mark.slow
MALFORMED = b"x1,x2,label\n0.1,0.2,0\n0.3,oops,1\n"


@pytest.fixture(scope="module")
def server():
    proc = subprocess.Popen([sys.executable, "-m", "backproplab", "playground", "--port", "0",
                             "--no-open"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("backproplab playground: http"), proc.stderr.read()
        yield line.split()[2]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Exception as exc:  # a chromium that cannot start is no browser
            pytest.skip(f"chromium at {CHROMIUM} does not start: {exc}")
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1160, "height": 1000})
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    page.goto(server)
    wait_pass(page, lambda n: n == 0)
    yield page
    context.close()


def number(page, element_id) -> float:
    return float(page.locator(f"#{element_id}").text_content())


def wait_pass(page, ok, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = page.locator("#pass").text_content()
        if text and page.locator("#train-loss").text_content() != "–" and ok(int(text)):
            return int(text)
        page.wait_for_timeout(50)
    raise AssertionError(f"pass {page.locator('#pass').text_content()} never came")


def boundary(page) -> str:
    return page.evaluate("document.getElementById('boundary').toDataURL()")


def play_for(page, seconds):
    page.get_by_role("button", name="Play", exact=True).click()
    page.wait_for_timeout(int(seconds * 1000))
    updates = int(page.locator("#fps").text_content())
    page.get_by_role("button", name="Pause", exact=True).click()
    page.wait_for_timeout(300)
    return updates


def test_play_trains_live_and_the_views_follow(page):
    loss0, picture0 = number(page, "train-loss"), boundary(page)
    updates = play_for(page, 2.5)
    assert updates >= 10  # view updates per second reaching the page
    assert int(page.locator("#pass").text_content()) > 1000
    assert number(page, "train-loss") < loss0
    assert boundary(page) != picture0
    page.get_by_role("button", name="Step", exact=True).click()
    wait_pass(page, lambda n: n > 1000)
    assert page.console_errors == []


def test_keyboard_shortcuts_play_pause_step_and_reset(page):
    page.keyboard.press("Space")
    wait_pass(page, lambda n: n > 100)
    page.keyboard.press("Space")
    page.wait_for_timeout(300)
    paused = int(page.locator("#pass").text_content())
    page.keyboard.press("s")
    wait_pass(page, lambda n: n == paused + 1)
    page.keyboard.press("r")
    wait_pass(page, lambda n: n == 0)
    assert page.console_errors == []


def test_switching_the_activation_and_adding_a_layer_retrains(page):
    page.locator("#activation").select_option("relu")
    page.get_by_role("button", name="Add layer").click()
    page.wait_for_timeout(500)
    assert page.locator("#layers input").count() == 2
    play_for(page, 1.0)
    assert int(page.locator("#pass").text_content()) > 100
    assert "activation=relu" in page.url and "hidden=3%2C3" in page.url
    assert page.console_errors == []


def test_an_uploaded_csv_trains_and_a_malformed_one_is_explained(page):
    rows = "x1,x2,label\n" + "\n".join(f"{i / 10},{(i % 7) / 3},{int(i % 7 > 3)}"
                                       for i in range(60))
    page.locator("#csv").set_input_files(files=[{"name": "own.csv", "mimeType": "text/csv",
                                                 "buffer": rows.encode()}])
    page.wait_for_function("document.getElementById('source').value === 'custom'")
    play_for(page, 1.0)
    assert int(page.locator("#pass").text_content()) > 100
    page.locator("#csv").set_input_files(files=[{"name": "bad.csv", "mimeType": "text/csv",
                                                 "buffer": MALFORMED}])
    error = page.locator("#data-error")
    error.wait_for(state="visible")
    assert "CSV line 3: x2='oops' is not a number" in error.text_content()
    assert page.console_errors == []


def test_a_shared_url_gives_the_same_numbers(page, browser):
    page.locator("#activation").select_option("sigmoid")
    page.wait_for_timeout(300)
    play_for(page, 1.0)
    page.wait_for_timeout(300)
    shown = {k: page.locator(f"#{k}").text_content() for k in
             ("pass", "train-loss", "train-acc", "heldout-loss", "heldout-acc")}
    url = page.url
    assert f"pass={shown['pass']}" in url
    other = browser.new_page()
    try:
        other.goto(url)
        wait_pass(other, lambda n: n == int(shown["pass"]), timeout=60)
        again = {k: other.locator(f"#{k}").text_content() for k in shown}
    finally:
        other.close()
    assert again == shown


def test_explain_seeds_and_the_figure_menu(page):
    page.locator("#preset").select_option(label="moons-hidden: width=5")
    page.wait_for_function("document.querySelector('#layers input').value === '5'")
    play_for(page, 1.0)
    page.get_by_role("button", name="Explain this step").click()
    panel = page.locator("#explain-panel")
    panel.wait_for(state="visible")
    assert "Gradient check" in panel.text_content() and "delta[0]" in panel.text_content()
    page.get_by_role("button", name="Train 5 seeds").click()
    page.wait_for_function("document.getElementById('seeds-result').textContent"
                           ".includes('over 5 seeds')", timeout=60_000)
    assert page.console_errors == []
    path = os.environ.get("BACKPROPLAB_SCREENSHOT")
    if path:
        page.locator("#explain-panel").evaluate("e => e.hidden = true")
        page.screenshot(path=path, full_page=False)
