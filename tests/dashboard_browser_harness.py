"""Run the dashboard with `streamlit run` and drive it with a real headless Chromium (Selenium).

Shared by `tests/dashboard/test_dashboard_browser.py` and `bench/dashboard_screenshots.py`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
APP = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)
# page name -> (url path, title). st.Page derives the url path from the file name; the
# default page (Recommendations) lives at the root.
PAGES = {
    "recommendations": ("", "Recommendations"),
    "sentiment_monitor": ("sentiment_monitor", "Sentiment monitor"),
    "intents": ("intents", "Intents"),
    "models_overview": ("models_overview", "Models"),
}
ERROR_SELECTOR = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def browser_available() -> bool:
    return Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def streamlit_server(root: Path, log_path: Path, timeout_seconds: float = 60.0) -> Iterator[str]:
    """Start `streamlit run dashboard/app.py` on a free localhost port; yield its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
        "--",
        "--artifacts",
        str(root),
    ]
    environment = {**os.environ, "SEQLENS_ARTIFACTS": str(root)}
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout_seconds
            while True:
                if server.poll() is not None:
                    raise RuntimeError(
                        f"streamlit exited early: {Path(log_path).read_text()[-2000:]}"
                    )
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                        if response.read().strip() == b"ok":
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("streamlit did not become healthy in time")
                time.sleep(0.3)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@contextmanager
def chromium(user_data_dir: Path, width: int = 1400, height: int = 1000):
    """A headless Chromium WebDriver with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument(f"--user-data-dir={user_data_dir}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait_until_rendered(
    driver, title: str, timeout_seconds: float = 300.0, settle_seconds: float = 0.5
) -> None:
    """Wait until the page's title heading is shown and the script has finished running.

    `settle_seconds` more are waited at the end so charts finish drawing (for screenshots).
    """

    deadline = time.monotonic() + timeout_seconds
    state, headings = None, []
    while time.monotonic() < deadline:
        # one script call reads both atomically (the DOM changes under a client-side navigation)
        state, headings = driver.execute_script(
            "const app = document.querySelector('[data-testid=\"stApp\"]');"
            "return [app ? app.getAttribute('data-test-script-state') : null,"
            " Array.from(document.querySelectorAll('h1')).map(h => h.textContent)];"
        )
        if state == "notRunning" and any(title in heading for heading in headings):
            time.sleep(settle_seconds)
            return
        time.sleep(0.05)
    raise TimeoutError(
        f"page {title!r} did not finish rendering; headings={headings}, state={state}"
    )


def error_texts(driver) -> list[str]:
    """Text of every Streamlit exception or error element on the page."""
    from selenium.webdriver.common.by import By

    errors = [element.text for element in driver.find_elements(By.CSS_SELECTOR, ERROR_SELECTOR)]
    dialogs = [element.text for element in driver.find_elements(By.CSS_SELECTOR, '[role="dialog"]')]
    return errors + [
        text for text in dialogs if "not found" in text.lower() or "error" in text.lower()
    ]


def full_page_screenshot(driver, path: Path) -> None:
    """Screenshot of the whole page: grow the window to the content's height first."""
    height = driver.execute_script(
        "const main = document.querySelector('[data-testid=\"stMain\"]') || document.body;"
        "return Math.max(main.scrollHeight, document.body.scrollHeight);"
    )
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, min(max(int(height) + 120, 800), 4000))
    time.sleep(0.5)
    driver.save_screenshot(str(path))
