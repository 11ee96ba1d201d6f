"""The drift report and the registry site in headless Chromium (Debian's, via chromedriver).

Each page is opened from file:// at a 640 px wide window: a screenshot is taken, the DOM
holds one chart per column (report) or per model (site), the browser log has no errors,
and nothing is wider than the window. Set MODELREG_SCREENSHOTS=DIR to keep the pictures
(docs/img/ holds the committed ones).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from conftest import Prebuilt
from modelreg.monitoring.compare import compare
from modelreg.monitoring.profile import build_profile
from modelreg.monitoring.render import render_html
from modelreg.monitoring.report import Sources
from modelreg.registry.drift_rules import DriftRules
from test_site import two_models

pytestmark = pytest.mark.slow

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
KEEP = os.environ.get("MODELREG_SCREENSHOTS")  # read before the fixtures isolate the env
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One Chromium for the session; the driver path is given, so nothing is downloaded."""
    assert shutil.which(CHROMIUM) and shutil.which(DRIVER), (
        "chromium and chromium-driver are missing: apt-get install chromium chromium-driver "
        "(.ci/run does)"
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.add_argument("--window-size=640,900")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _open(browser: Any, page: Path, shot: Path) -> None:
    browser.set_window_size(640, 900)
    browser.get(page.as_uri())
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 640, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    assert browser.execute_script("return window.innerWidth") == 640
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 1000
    if KEEP:
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": 640, "height": min(height, 2400), "deviceScaleFactor": 1, "mobile": False},
        )
        browser.save_screenshot(str(Path(KEEP) / shot.name))
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 640
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []


def test_drift_report_in_chromium(browser: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 3000
    ref = pd.DataFrame(
        {
            "tenure": rng.gamma(2.0, 12.0, n),
            "monthly_fee": rng.normal(50, 10, n),
            "plan": rng.choice(["basic", "pro", "team"], n, p=[0.5, 0.3, 0.2]),
            "age": rng.uniform(18, 90, n),
            "prediction": rng.integers(0, 2, n),
        }
    )
    cur = ref.sample(frac=1.0, random_state=1).reset_index(drop=True)
    cur["tenure"] = cur["tenure"] * 1.3 + 5
    cur.loc[:199, "plan"] = "enterprise"
    cur["timestamp"] = pd.date_range("2026-11-01", periods=n, freq="5min", tz="UTC")
    report = compare(build_profile(ref), cur, DriftRules.from_dict({}))
    sources = Sources(
        reference="models/churn/artifacts/v1.4.0/profile.json",
        current="logs/predictions/",
        model="churn",
        version="v1.4.0",
        stage="production",
        window="7d",
    )
    page = tmp_path / "drift-report.html"
    page.write_text(render_html(report, title="churn v1.4.0 in production", sources=sources))
    _open(browser, page, tmp_path / "drift-report.png")
    from selenium.webdriver.common.by import By

    figures = browser.find_elements(By.CSS_SELECTOR, "figure.chart")
    assert [f.get_attribute("data-column") for f in figures] == [c.name for c in report.columns]
    assert all(f.find_elements(By.TAG_NAME, "svg") for f in figures)


def test_registry_site_in_chromium(browser: Any, prebuilt: Prebuilt, tmp_path: Path) -> None:
    reg = prebuilt.registry(two_models)
    out = tmp_path / "public"
    reg.ok("site", "-o", str(out))
    _open(browser, out / "index.html", tmp_path / "site.png")
    from selenium.webdriver.common.by import By

    charts = browser.find_elements(By.CSS_SELECTOR, "figure.chart[data-model]")
    assert sorted(c.get_attribute("data-model") for c in charts) == ["churn", "fraud"]
    _open(browser, out / "models/churn/index.html", tmp_path / "site-model.png")
    assert len(browser.find_elements(By.CSS_SELECTOR, "figure.chart svg")) == 2
