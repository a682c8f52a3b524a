"""A real headless Chromium and a ``serve`` app on a loopback port, for the browser tests and the docs' screenshots.

Chromium and ChromeDriver come from the system (Debian: ``apt-get install chromium chromium-driver``; other
paths through ``KERAS_CXR_CHROMIUM`` and ``KERAS_CXR_CHROMEDRIVER``), never downloaded: Selenium is given
both paths, so its driver manager is not asked. The flags are the ones a closed network needs (no
background connections, no component updates) plus ``--no-sandbox`` for containers that run as root.
"""

import contextlib
import os
import socket
import threading
import time
from pathlib import Path

CHROMIUM = os.environ.get("KERAS_CXR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KERAS_CXR_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-quic")


def browser_missing():
    """Why no browser test can run here (None when Chromium, ChromeDriver and Selenium are all present)."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).is_file():
            return f"{path} not found (Debian: apt-get install {package})"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def start_chromium(width=1280, height=1000):
    """A headless Chromium driven by Selenium, logging the page's console (``driver.get_log("browser")``)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def free_port():
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def serving(app, timeout=60):
    """Run an ASGI ``app`` with uvicorn on a free loopback port in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout)
