"""The Dagster UI in a real browser, and readers of the serving database while it all runs."""

import subprocess
import time

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT
from tests.e2e.conftest import BIN, CHROMIUM, run_cli

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
    ),
]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _query_while(proc: subprocess.Popen, serving) -> tuple[int, list[str]]:
    """Query the serving database read-only in a loop until proc ends; count queries and errors."""
    queries, errors = 0, []
    while proc.poll() is None:
        try:
            with duckdb.connect(str(serving), read_only=True) as con:
                con.execute("SELECT count(*) FROM recommendations_named").fetchone()
            queries += 1
        except duckdb.Error as exc:
            errors.append(str(exc))
        time.sleep(0.05)
    return queries, errors


def _expect_running(page, name: str) -> None:
    """The automation list shows ``name`` with its on/off switch on (the row's second checkbox;
    the first selects the row)."""
    from playwright.sync_api import expect

    row = page.locator("[data-index]", has=page.get_by_text(name, exact=True)).first
    expect(row.get_by_role("checkbox").nth(1)).to_be_checked(timeout=60_000)


def test_ui_shows_the_asset_graph_running_automation_and_readers_never_hit_a_lock(
    webserver, tmp_path
):
    url, env, data_dir = webserver
    first = run_cli(["materialize"], env)
    assert first.returncode == 0, first.stderr[-3000:]
    serving = data_dir / "serving" / "musicrec.duckdb"

    second = subprocess.Popen(
        [str(BIN / "musicrec"), "materialize"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    queries, errors = _query_while(second, serving)
    assert second.returncode == 0, second.stderr.read()[-3000:]
    assert errors == [] and queries > 10

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        skip = page.get_by_role("button", name="Skip")  # the first-visit community dialog
        page.add_locator_handler(skip, lambda: skip.click())
        page.goto(f"{url}/assets", wait_until="domcontentloaded")
        for asset in (
            "raw_plays",
            "validated_plays",
            "quarantine",
            "recommendations",
            "serving_database",
        ):
            page.get_by_text(asset, exact=True).first.wait_for(timeout=60_000)
        page.goto(f"{url}/assets/serving_database", wait_until="domcontentloaded")
        page.get_by_text("musicrec.duckdb", exact=False).first.wait_for(timeout=60_000)
        page.screenshot(path=str(tmp_path / "serving_database.png"))
        page.goto(f"{url}/assets/model_evaluation", wait_until="domcontentloaded")
        row = page.locator("tr", has=page.get_by_text("ndcg_vs_k_warm", exact=True)).first
        row.wait_for(timeout=60_000)
        row.get_by_text("[Show Markdown]").click()
        plot = page.locator('img[alt="ndcg_vs_k_warm"]').first
        plot.wait_for(timeout=30_000)
        assert plot.evaluate("img => img.naturalWidth") > 100
        page.screenshot(path=str(tmp_path / "model_evaluation.png"))
        page.goto(f"{url}/automation", wait_until="domcontentloaded")
        for name in ("landing_sensor", "follow_new_data", "recommendations_freshness"):
            _expect_running(page, name)
        _expect_running(page, "weekly_retrain")
        page.screenshot(path=str(tmp_path / "automation.png"))
        browser.close()
