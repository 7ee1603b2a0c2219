"""The serve page in a real browser: Debian's Chromium, headless, driven by Selenium.

Draws strokes of several digits on the canvas and checks the label shown,
and feeds a camera frame from a file (Chromium's fake video capture) and
checks the label. Screenshots go to $CI_ARTIFACTS/browser (or a temp folder).
Skipped when Chromium, chromedriver or Selenium are missing (CI installs them).
"""

import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from helpers import require_extra
from PIL import Image

webdriver = require_extra("selenium.webdriver", "dev")
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="system packages chromium chromium-driver missing (./scripts/test.sh installs them)",
)

# Strokes in pad coordinates (0..1), one list of points per stroke.
DIGIT_STROKES = {
    "1": [[(0.45, 0.22), (0.55, 0.12), (0.55, 0.88)]],
    "7": [[(0.22, 0.18), (0.78, 0.18), (0.42, 0.88)]],
    "0": [[(0.5 + 0.22 * np.sin(t), 0.5 - 0.34 * np.cos(t)) for t in np.linspace(0, 2 * np.pi, 40)]],
    "4": [[(0.62, 0.12), (0.22, 0.62), (0.8, 0.62)], [(0.62, 0.35), (0.62, 0.9)]],
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def artifacts():
    folder = Path(os.environ.get("CI_ARTIFACTS") or tempfile.mkdtemp()) / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def service():
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mnist_edge", "serve", "-q", "--port", str(port), "--token", "pagetoken"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/"
    for _ in range(150):
        try:
            urllib.request.urlopen(url + "v2/health/ready", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    yield url
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def write_y4m(path: Path, gray: np.ndarray, frames: int = 10) -> Path:
    """A Y4M video (4:2:0) showing one grey image, for Chromium's fake camera."""
    h, w = gray.shape
    chroma = np.full((h // 2) * (w // 2), 128, np.uint8).tobytes()
    with open(path, "wb") as handle:
        handle.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            handle.write(b"FRAME\n" + gray.astype(np.uint8).tobytes() + chroma + chroma)
    return path


@pytest.fixture(scope="module")
def camera_video(tmp_path_factory, mnist):
    """A camera pointed at a 3 (a clearly written one) large in dark ink on white paper."""
    from mnist_edge.runtime import Predictor, default_model_path

    predictor = Predictor(default_model_path())
    threes = np.flatnonzero(mnist.y_test == 3)
    index = next(i for i in threes if predictor.predict(mnist.x_test[i]).confidence > 0.99)
    page = np.full((480, 640), 235, np.uint8)
    glyph = Image.fromarray(255 - mnist.x_test[index]).resize((300, 300), Image.BICUBIC)
    page[90:390, 170:470] = np.minimum(page[90:390, 170:470], np.asarray(glyph))
    return write_y4m(tmp_path_factory.mktemp("cam") / "digit3.y4m", page), 3


@pytest.fixture(scope="module")
def browser(camera_video):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1000,900",
        f"--user-data-dir={tempfile.mkdtemp()}",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={camera_video[0]}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def open_page(browser, url):
    browser.get(url)
    browser.execute_script("localStorage.setItem('mnist-edge-token', 'pagetoken')")
    browser.get(url)


def shown_label(browser, timeout=15.0, settled=False):
    """The answer the page shows; with ``settled``, only once it is for everything drawn.

    The answer and the pad's state are read in one script, so an answer that
    lands between two reads cannot pair an old label with a settled state.
    """
    answer_js = "state === 'read' ? answer : ''" if settled else "answer"
    script = (
        "const answer = document.getElementById('label').dataset.answer || '';"
        "const state = document.getElementById('pad').dataset.state || '';"
        "return " + answer_js + ";"
    )
    deadline = time.time() + timeout
    while time.time() < deadline:
        answer = browser.execute_script(script)
        if answer:
            return answer
        time.sleep(0.1)
    raise AssertionError("no answer shown: " + browser.find_element("id", "status").text)


def draw(browser, strokes):
    from selenium.webdriver.common.action_chains import ActionChains

    pad = browser.find_element("id", "pad")
    size = pad.size
    for stroke in strokes:
        points = [(int((x - 0.5) * size["width"]), int((y - 0.5) * size["height"])) for x, y in stroke]
        chain = (
            ActionChains(browser, duration=10).move_to_element_with_offset(pad, *points[0]).click_and_hold()
        )
        for (x0, y0), (x1, y1) in itertools.pairwise(points):
            steps = max(1, int(max(abs(x1 - x0), abs(y1 - y0)) / 12))
            for k in range(1, steps + 1):
                chain.move_to_element_with_offset(
                    pad, x0 + (x1 - x0) * k // steps, y0 + (y1 - y0) * k // steps
                )
        chain.release().perform()


@pytest.mark.parametrize("digit", sorted(DIGIT_STROKES))
def test_drawing_a_digit_shows_its_label(browser, service, artifacts, digit):
    open_page(browser, service)
    browser.find_element("id", "clear").click()
    draw(browser, DIGIT_STROKES[digit])
    label = shown_label(browser, settled=True)
    browser.save_screenshot(str(artifacts / f"drawn_{digit}.png"))
    assert label == digit
    assert len(browser.find_elements("css selector", "#probs .bar")) == 10
    assert browser.find_element("id", "seen").get_attribute("src").startswith("data:image/png;base64,")


def test_a_camera_frame_is_read(browser, service, artifacts, camera_video):
    open_page(browser, service)
    browser.find_element("id", "camera-start").click()
    deadline = time.time() + 15
    while time.time() < deadline and not browser.execute_script(
        "const v = document.getElementById('video'); return v.videoWidth > 0 && v.readyState >= 2;"
    ):
        time.sleep(0.2)
    browser.find_element("id", "camera-snap").click()
    label = shown_label(browser)
    browser.save_screenshot(str(artifacts / "camera.png"))
    assert label == str(camera_video[1])


def test_the_page_asks_for_the_token_once(browser, service):
    browser.get(service)
    browser.execute_script("localStorage.clear()")
    browser.get(service)
    browser.execute_script("window.prompt = () => 'pagetoken'")
    draw(browser, DIGIT_STROKES["1"])
    assert shown_label(browser, settled=True) == "1"
    assert browser.execute_script("return localStorage.getItem('mnist-edge-token')") == "pagetoken"


def test_before_anything_is_drawn_no_broken_image_is_shown(browser, service, artifacts):
    open_page(browser, service)
    browser.find_element("id", "clear").click()
    seen = browser.find_element("id", "seen")
    browser.save_screenshot(str(artifacts / "empty_pad.png"))
    assert not seen.is_displayed() and not seen.get_attribute("src")


def number_strokes(digits: str):
    """Each digit's strokes placed in its own cell across the wide pad, as a person writes a number."""
    cells = len(digits)
    return [
        [((k + 0.12 + 0.76 * x) / cells, 0.12 + 0.76 * y) for x, y in stroke]
        for k, digit in enumerate(digits)
        for stroke in DIGIT_STROKES[digit]
    ]


def test_drawing_a_number_shows_it_with_a_box_per_digit(browser, service, artifacts):
    open_page(browser, service)
    browser.find_element("css selector", "input[name=mode][value=number]").click()
    draw(browser, number_strokes("1704"))
    label = shown_label(browser, settled=True)
    browser.save_screenshot(str(artifacts / "drawn_number_1704.png"))
    assert label == "1704"
    assert browser.find_element("id", "boxes").get_attribute("data-count") == "4"
    captions = [e.text for e in browser.find_elements("css selector", "#digits figcaption")]
    assert [c.split()[0] for c in captions] == list("1704")


UNSURE = [
    # (case, the number's confidence, the answer's "unsure": shown as unsure)
    ("a sure number", 0.97, False),
    ("an unsure number", 0.62, True),
]


@pytest.mark.parametrize("name,confidence,unsure", UNSURE, ids=[c[0] for c in UNSURE])
def test_a_number_read_unsurely_is_shown_as_unsure(browser, service, artifacts, name, confidence, unsure):
    """The page's own rendering of an answer (as /predict?number=1 sends it), without drawing."""
    open_page(browser, service)
    digit = {"label": 1, "confidence": confidence, "box": [0, 0, 10, 10], "top_k": []}
    answer = {"number": "1", "confidence": confidence, "unsure": unsure, "digits": [digit], "lines": 1}
    browser.execute_script("showAnswer(arguments[0], false)", answer)
    browser.save_screenshot(str(artifacts / f"number_{'unsure' if unsure else 'sure'}.png"))
    label = browser.find_element("id", "label")
    assert ("unsure" in label.get_attribute("class").split()) == unsure
    assert ("check it" in browser.find_element("id", "reason").text) == unsure
    assert not browser.find_elements("css selector", "#digits img")  # none sent: no broken image
