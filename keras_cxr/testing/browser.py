"""A real headless Chromium and ``keras-cxr serve`` on a loopback port, for the browser tests and docs' screenshots.

Chromium and ChromeDriver come from the system (Debian: ``apt-get install chromium chromium-driver``; other
paths through ``KERAS_CXR_CHROMIUM`` and ``KERAS_CXR_CHROMEDRIVER``), never downloaded: Selenium is given
both paths, so its driver manager is not asked. The flags are the ones a closed network needs (no
background connections, no component updates) plus ``--no-sandbox`` for containers that run as root.
"""

import contextlib
import os
import signal
import socket
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
def serve_command(model, *options, timeout=180):
    """``keras-cxr serve MODEL --port P`` in its own process on a free loopback port; yields the page's URL.

    Waits for ``/healthz`` (model loaded), and stops the server (SIGINT, as Ctrl+C) on exit. Its output
    goes to a log file whose tail is in the error when it does not come up.
    """
    import subprocess
    import sys
    import tempfile
    import urllib.request

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([sys.executable, "-m", "keras_cxr.cli", "serve", str(model), "--port", str(port),
                                *map(str, options)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"keras-cxr serve did not come up on {url}:\n"
                                       + log.read().decode(errors="replace")[-3000:])
                time.sleep(0.25)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
