"""Redraw docs/images/report_html.png and docs/images/serve.png in headless Chromium.

    python docs/screenshots.py --evaluation demo_out/evaluation --model demo_out/run \
        demo_out/data/images/COVID-19/synth_covid-19_0000_0.png ... [--bad notes.png]

``--evaluation``: a folder with ``report.html`` (``keras-cxr evaluate``); ``--model``: what to serve;
the images are uploaded to the page in the order given. Needs Chromium and ChromeDriver (see the
README's test section).
"""

import argparse
import time
from pathlib import Path

from keras_cxr.testing.browser import browser_missing, serve_command, start_chromium

IMAGES = Path(__file__).resolve().parent / "images"


def report_screenshot(driver, evaluation, out):
    """The top of the page (headline tiles), then the browser with the first misclassified image opened."""
    driver.set_window_size(1280, 1500)
    driver.get((Path(evaluation) / "report.html").resolve().as_uri())
    driver.execute_script("document.getElementById('browser').scrollIntoView();"
                          "document.querySelector('#browser-grid .thumb').click();")
    time.sleep(0.5)
    driver.save_screenshot(str(out))
    return out


def serve_screenshot(driver, model, uploads, out):
    """The serve page after uploading ``uploads`` (the last one shown first)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(1280, 1700)
    with serve_command(model) as url:
        driver.get(url)
        driver.find_element("id", "files").send_keys("\n".join(str(Path(p).resolve()) for p in uploads))
        WebDriverWait(driver, 300).until(lambda d: d.execute_script("return document.body.dataset.done")
                                         == str(len(uploads)))
        driver.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.5)
        driver.save_screenshot(str(out))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--evaluation", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("uploads", nargs="+")
    args = parser.parse_args()
    missing = browser_missing()
    if missing:
        raise SystemExit(f"No browser: {missing}")
    IMAGES.mkdir(exist_ok=True)
    driver = start_chromium()
    try:
        print(report_screenshot(driver, args.evaluation, IMAGES / "report_html.png"))
        print(serve_screenshot(driver, args.model, args.uploads, IMAGES / "serve.png"))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
