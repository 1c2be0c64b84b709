"""Browser tests: headless Chromium (Debian's `chromium` and `chromium-driver`) driven by Selenium against a
real `rag serve` subprocess with the local model. Screenshots of each step go to a folder printed at the end
of the run ($RAG_SCREENSHOTS, else tests/output/screenshots/<time>)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import BIN, ROOT, free_port, server_process

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
API_KEY = "browser-test-key"
# Generous: the machine is shared and the first answer loads the local model.
WAIT_S = 300
_screenshot_dirs: list[Path] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for folder in _screenshot_dirs:
        terminalreporter.write_line(f"browser test screenshots: {folder}")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    default = ROOT / "tests" / "output" / "screenshots" / time.strftime("%Y%m%d-%H%M%S")
    folder = Path(os.environ.get("RAG_SCREENSHOTS") or default)
    folder.mkdir(parents=True, exist_ok=True)
    _screenshot_dirs.append(folder)
    print(f"screenshots: {folder}")
    return folder


@pytest.fixture(scope="session")
def rag_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`rag serve` with its own data dir and an API key; yields its URL."""
    folder = tmp_path_factory.mktemp("rag-serve-browser")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | {
        "RAG_DATA_DIR": str(folder / "data"),
        "RAG_API_KEYS": API_KEY,
        "RAG_PUBLIC_DOCS": "true",  # /docs in a browser cannot send the key
    }
    command = [str(BIN / "rag"), "serve", "--port", str(port)]
    with server_process(command, "/health", port, folder / "server.log", timeout=600, cwd=folder, env=env) as url:
        yield url


def chromium(width: int = 1280, height: int = 1000) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shot(browser: WebDriver, screenshots: Path, request: pytest.FixtureRequest) -> Callable[[str], Path]:
    """Save a screenshot of the current page as `<test>-<nn>-<step>.png`."""
    count = 0

    def save(step: str) -> Path:
        nonlocal count
        count += 1
        path = screenshots / f"{request.node.name}-{count:02d}-{step}.png"
        browser.save_screenshot(str(path))
        return path

    return save


def wait_for(browser: WebDriver, condition: Callable[[WebDriver], object], timeout: float = WAIT_S) -> object:
    """Poll until `condition` holds; an element the page re-rendered between finding and reading it is a retry,
    not a failure (the documents table redraws after every change)."""
    waiting = WebDriverWait(browser, timeout, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,))
    return waiting.until(condition)
