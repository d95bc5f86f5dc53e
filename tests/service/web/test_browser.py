"""End to end in a real browser: headless Chromium (Debian's package, driven by Playwright)
against `pulse serve` on a database prepared the way the first README command prepares it
(`pulse prepare` loads the demo community with the real models).

Screenshots land in test-artifacts/browser/ (PULSE_TEST_ARTIFACTS to move them).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from eval.speed import Server

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("PULSE_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("PULSE_TEST_ARTIFACTS", "test-artifacts")) / "browser"
# As root and on a closed network: no sandbox, no background connections.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """The service after `pulse prepare` (demo loaded, first admin key written) and a
    moderator key for the demo community made with `pulse keys create`."""
    db = tmp_path_factory.mktemp("browser") / "pulse.db"
    env = os.environ | {"PULSE_DB_PATH": str(db), "PULSE_DEMO": "true"}
    done = subprocess.run([sys.executable, "-m", "service.cli", "prepare"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    moderator = subprocess.run(
        [sys.executable, "-m", "service.cli", "keys", "create", "--name", "e2e-mod", "--role",
         "moderator", "--community", "demo"], env=env, capture_output=True, text=True, check=True)
    server = Server(db)
    server.keys = {"admin": (db.parent / "admin.key").read_text().strip(),
                   "moderator": moderator.stdout.strip()}
    yield server
    server.stop()


@pytest.fixture(scope="module")
def base(service):
    return service.base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} missing: `make test` installs Debian's chromium"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # confirm() on dismiss-like buttons
    yield page
    context.close()


def sign_in(page, base: str, key: str, path: str) -> None:
    page.goto(base + path)
    assert "/dashboard/login" in page.url  # nothing is shown before signing in
    page.fill("#key", key)
    page.click("form.login button")
    assert page.url.endswith(path), page.url


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_triage_an_item_end_to_end(service, base, page):
    sign_in(page, base, service.keys["moderator"], "/dashboard/demo/queue")
    page.goto(base + "/")
    assert page.url.endswith("/dashboard/demo/queue")  # the only community opens directly
    assert "e2e-mod (moderator)" in page.inner_text("header")
    rows = page.locator("table.queue tbody tr[data-item]")
    assert rows.count() >= 10
    priorities = [float(t) for t in page.locator("table.queue .prio").all_inner_texts()]
    assert priorities == sorted(priorities, reverse=True)
    for kind in ("flagged", "recurring", "unanswered"):
        assert httpx.get(f"{base}/v1/queue", params={"community": "demo", "kind": kind},
                         headers=service.headers).json()["total"] >= 1, kind
    shot(page, "01-queue")

    page.select_option("select[name=kind]", "recurring")
    page.click("form.filters button")
    assert set(page.locator("table.queue tbody tr td:nth-child(2)").all_inner_texts()) == {
        "recurring"}

    first = page.locator("table.queue tbody tr[data-item] a").first
    item_id = page.locator("table.queue tbody tr[data-item]").first.get_attribute("data-item")
    first.click()
    assert "Why this priority" in page.inner_text("section.explanation")
    assert page.locator("section.explanation tbody tr").count() == 7  # every factor shown

    page.click("button[value=acknowledge]")
    assert page.inner_text("#item-status") == "acknowledged"
    assert "Done: acknowledge" in page.inner_text("p.flash")
    page.fill("input[name=note]", "looking into it with the app team")
    page.click("button:has-text('Add note')")
    page.fill("input[name=assignee]", "bob")
    page.click("button:text-is('Assign')")
    assert page.inner_text("#item-assignee") == "bob"
    page.click("button[value=resolve]")
    assert page.inner_text("#item-status") == "resolved"
    shot(page, "02-item-resolved")

    page.locator("section.history tr", has_text="resolve").locator("button", has_text="Undo").click()
    assert page.inner_text("#item-status") == "acknowledged"
    shot(page, "03-item-undone")

    trail = httpx.get(f"{base}/v1/queue/{item_id}", headers=service.headers).json()["actions"]
    assert [(a["actor"], a["action"]) for a in trail] == [
        ("e2e-mod", "acknowledge"), ("e2e-mod", "note"), ("e2e-mod", "assign"),
        ("e2e-mod", "resolve"), ("e2e-mod", "undo")]
    assert trail[3]["undone_by"] == trail[4]["id"]


def test_relabel_a_flagged_message(service, base, page):
    sign_in(page, base, service.keys["moderator"], "/dashboard/demo/queue?kind=flagged")
    page.locator("table.queue tbody tr[data-item] a").first.click()
    page.select_option("#relabel-field", "intent")
    page.select_option("#relabel-value", "chitchat")
    page.click("button:text-is('Relabel')")
    assert re.search(r"relabel\s+intent: \w+ → chitchat", page.inner_text("section.history"))
    feedback = httpx.get(f"{base}/v1/feedback", params={"community": "demo"},
                         headers=service.headers).json()["items"]
    assert [(f["field"], f["value"], f["actor"]) for f in feedback] == [
        ("intent", "chitchat", "e2e-mod")]


def test_report_trends_and_topics(service, base, page):
    sign_in(page, base, service.keys["moderator"], "/dashboard/demo/queue")
    assert page.locator("nav >> text=Weekly report").count() == 0  # operators' pages
    page.click("#logout")
    sign_in(page, base, service.keys["admin"], "/dashboard/demo/queue")  # from pulse prepare
    page.click("nav >> text=Weekly report")
    assert re.match(r"Weekly report — demo, \d{4}-W\d{2}", page.inner_text("section.report h1"))
    assert page.locator("section.report svg").count() == 3
    assert page.locator("section.report ol li").count() >= 1  # recurring issues with quotes
    shot(page, "04-weekly-report")
    page.click("form.filters >> text=HTML")  # the standalone page operators forward
    assert page.url.endswith("format=html") and page.locator("svg").count() == 3
    page.goto(base + "/dashboard/demo/trends")
    kpis = page.locator(".kpis div").all_inner_texts()
    assert any("active members" in k for k in kpis)
    assert page.locator("svg").count() == 3
    shot(page, "05-trends")
    page.click("nav >> text=Topics")
    emerging = page.locator("table.topics tr", has_text="emerging")
    assert emerging.count() >= 1  # the demo's last-week battery complaints
    emerging.first.locator("a").first.click()
    assert page.locator("blockquote").count() >= 1 and page.locator("svg").count() == 1
    shot(page, "06-topic")
