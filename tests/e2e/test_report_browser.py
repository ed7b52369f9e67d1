"""The HTML report in a real browser: headless Chromium loads it offline and renders its tables."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)")
def test_report_renders_in_chromium(finished_run, tmp_path: Path) -> None:
    work, _ = finished_run
    (run_dir,) = (work / "reports" / "mini").iterdir()
    url = (run_dir / "report.html").as_uri()
    base = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    from lxml import html

    page = html.fromstring(dom)
    metrics = [th.text_content().split("judge:")[0].strip() for th in page.xpath('//table[@id="summary"]/tbody/tr/th')]
    assert metrics == ["hit_rate@5", "recall@5", "mrr", "ndcg@5", "context_recall_ids", "faithfulness",
                       "latency p50 / p95"]
    assert len(page.xpath('//table[@id="cases"]/tbody/tr')) == 12
    assert "2 of 2 gates passed" in page.xpath('//div[@id="verdict"]')[0].text_content()
    shot = tmp_path / "report.png"
    subprocess.run([*base, "--window-size=1300,900", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120, check=True)
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
