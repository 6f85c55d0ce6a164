"""The Dagster UI in a real browser, and readers of the serving database while it all runs."""

import re
import subprocess
import time

import duckdb
import pytest

from musicrec_core.serving.layout import SERVING_FILE
from tests.conftest import PROJECT_ROOT
from tests.e2e.conftest import BIN, CHROMIUM, run_cli, wait_for_http

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


def _new_page(playwright):
    """A Chromium page large enough for the lineage page's buttons and dialogs."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    return browser.new_page(viewport={"width": 1400, "height": 900})


def _scroll_catalogue_to(page, name: str, timeout: float = 60) -> None:
    """Wheel the asset catalogue down until ``name`` shows: it renders only the rows in view."""
    target = page.get_by_text(name, exact=True).first
    deadline = time.monotonic() + timeout
    while not target.is_visible():
        assert time.monotonic() < deadline, f"{name!r} never showed"
        page.locator('a[href^="/assets/"]').first.hover()  # the mouse over the list's rows
        page.mouse.wheel(0, 300)
        page.wait_for_timeout(250)


def _backfill_detail(page, label: str):
    """The value beside ``label`` (Status, Partition selection, ...) on a backfill's page."""
    return page.get_by_text(label, exact=True).locator("xpath=following-sibling::div")


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
        page = _new_page(p)
        page.goto(f"{url}/assets", wait_until="domcontentloaded")
        for asset in (  # in the list's (alphabetical) order
            "quarantine",
            "raw_plays",
            "recommendations",
            "serving_database",
            "validated_plays",
        ):
            _scroll_catalogue_to(page, asset)
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


@pytest.mark.timeout(1500)
def test_materialize_all_in_the_ui_backfills_every_user_shard_and_the_api_serves_the_result(
    webserver, api_server, tmp_path
):
    """The lineage page's "Materialize all…" asks which partitions of the sharded
    recommendations to build; all four launch one backfill, whose page reports success once the
    serving database is published; the HTTP API, started before there was one, then serves it."""
    from playwright.sync_api import expect, sync_playwright

    url, _, data_dir = webserver
    serving = data_dir / SERVING_FILE
    api = api_server(data_dir)
    assert not serving.exists()

    with sync_playwright() as p:
        page = _new_page(p)
        page.goto(f"{url}/asset-groups", wait_until="domcontentloaded")
        page.get_by_role("button", name="Materialize all…").click(timeout=60_000)
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="All", exact=True).click()
        # the four user shards musicrec_env leaves at their default
        expect(dialog.get_by_text("4 partitions", exact=True)).to_be_visible()
        page.screenshot(path=str(tmp_path / "materialize_all.png"))
        dialog.get_by_role("button", name="Launch backfill").click()
        created = page.get_by_text(re.compile(r"^Created backfill \w+$"))
        backfill = created.inner_text(timeout=30_000).split()[-1]

        page.goto(f"{url}/runs/b/{backfill}", wait_until="domcontentloaded")
        expect(_backfill_detail(page, "Partition selection")).to_have_text(
            "4 partitions", timeout=60_000
        )
        status = _backfill_detail(page, "Status")
        expect(status).to_have_text(
            re.compile("Succeeded|Completed|Failed|Canceled"), timeout=900_000
        )
        page.screenshot(path=str(tmp_path / "backfill.png"), full_page=True)
        assert status.inner_text() == "Succeeded", f"backfill {backfill}: see {tmp_path}"
        assert serving.is_file()
        wait_for_http(f"{api}/health", timeout=60)  # 200 once the publication is loaded

        page.goto(f"{api}/docs", wait_until="domcontentloaded")
        for endpoint in ("/users/{user_id}/recommendations", "/health"):
            expect(page.get_by_text(endpoint, exact=True).first).to_be_visible(timeout=30_000)
        page.screenshot(path=str(tmp_path / "api_docs.png"), full_page=True)
