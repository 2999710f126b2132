"""XSS in a real browser: the corpus (tests/security/xss_corpus.py) imported into an account
and streamed as a reply, then every page visited in Chromium, the admin as a superuser.

On each page: no dialog opened, no element a payload would create, `window.pwned` unset,
and the payloads readable as text.
"""

import re
import subprocess
import sys

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import ROOT, pipo_environment
from tests.security.xss_corpus import PAYLOADS, export_with

TEXTS = [payload for _, payload in PAYLOADS]
PASSWORD = "a-long-passphrase-42"


def shown_text(page: Page) -> str:
    """What the page shows: its text, and the values of its form fields."""
    return page.evaluate(
        """() => document.body.innerText + "\\n" +
             [...document.querySelectorAll("input, textarea")].map(e => e.value).join("\\n")"""
    )


def assert_inert(page: Page, dialogs: list[str], where: str) -> None:
    page.wait_for_load_state("load")
    page.wait_for_timeout(150)  # onerror, onload and htmx's load triggers fire by then
    assert dialogs == [], f"{where}: script from a payload ran: {dialogs}"
    assert page.locator("[id^=pwned]").count() == 0, f"{where}: a payload made an element"
    assert page.evaluate("window.pwned === undefined"), f"{where}: a payload set window.pwned"
    assert page.locator("iframe, object, embed").count() == 0, where


def superuser_create(tmp_path, email: str) -> None:
    env = pipo_environment(tmp_path / "var")  # live_pipo's var/: the same database
    env.update({"DJANGO_SUPERUSER_PASSWORD": PASSWORD})
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput",
         "--username", email, "--email", email],
        cwd=ROOT, env=env, check=True, capture_output=True,
    )  # fmt: skip


def sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/signin/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/signin/"))


@pytest.fixture
def watched(page: Page) -> tuple[Page, list[str]]:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return page, dialogs


def test_the_corpus_stays_text_on_every_page(watched, live_pipo, ollama_for_browser, tmp_path):
    page, dialogs = watched
    page.goto(f"{live_pipo}/accounts/signup/")
    page.get_by_label("Email").fill("ada@example.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/signup/"))

    # An import file carrying every payload in every field.
    page.goto(f"{live_pipo}/data/")
    page.set_input_files(
        "#import-file",
        files=[{"name": "export.json", "mimeType": "application/json",
                "buffer": export_with(TEXTS)}],
    )  # fmt: skip
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text("Imported.")).to_be_visible()
    assert_inert(page, dialogs, "the import report")

    # The chat: the imported conversation (messages, replies as Markdown, errors, titles).
    page.goto(live_pipo)
    assert_inert(page, dialogs, "the latest conversation")
    page.locator(".conversation > a").filter(has_text=TEXTS[0]).click()
    expect(page.locator(".msg.user")).to_have_count(len(TEXTS))
    assert_inert(page, dialogs, "the imported conversation")
    shown = shown_text(page)
    for payload in TEXTS:
        assert payload.strip() in shown, payload

    # A live turn: a payload typed in, the corpus streamed back token by token.
    ollama_for_browser.token_delay = 0.001
    ollama_for_browser.reply = "\n\n".join(TEXTS)
    page.get_by_role("button", name="+ New conversation").click()
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))
    box = page.get_by_label("Message")
    box.fill(TEXTS[1] + " " + TEXTS[3])
    box.press("Enter")
    reply = page.locator(".msg.assistant").last
    expect(reply).to_have_attribute("data-status", "complete", timeout=30_000)
    assert_inert(page, dialogs, "a streamed reply")
    expect(page.locator(".msg.user").last).to_contain_text(TEXTS[1])
    page.reload()
    assert_inert(page, dialogs, "the chat after a reload")

    # Renaming a conversation to a payload, through the htmx form.
    page.locator(".conversation.current a[title=Rename]").click()
    title_box = page.locator("input[name=title]")
    title_box.fill(TEXTS[4])
    title_box.press("Enter")
    expect(page.locator(".conversation.current")).to_contain_text(TEXTS[4])
    assert_inert(page, dialogs, "a renamed conversation")

    # The memory page (two pages of payloads), one memory's edit form, settings, data.
    for path in ("/memories/", "/memories/?page=2", "/memories/?history=1&sort=importance",
                 "/accounts/settings/", "/data/"):  # fmt: skip
        page.goto(f"{live_pipo}{path}")
        assert_inert(page, dialogs, path)
    page.goto(f"{live_pipo}/memories/")
    page.get_by_role("link", name="Edit").first.click()
    expect(page.locator("textarea[name=text]")).to_be_visible()
    assert_inert(page, dialogs, "a memory's edit form")
    page.goto(f"{live_pipo}/accounts/settings/")
    shown = shown_text(page)
    assert TEXTS[0][:60] in shown and TEXTS[1][:60] in shown  # the name and tone, as text

    # The admin, as a superuser.
    superuser_create(tmp_path, "root@example.test")
    page.context.clear_cookies()
    sign_in(page, live_pipo, "root@example.test")
    admin_pages = [
        "/admin/chat/conversation/", "/admin/chat/message/", "/admin/chat/dailysummary/",
        "/admin/memory/memory/", "/admin/memory/portrait/", "/admin/accounts/profile/",
        "/admin/accounts/user/",
    ]  # fmt: skip
    seen = ""
    for path in admin_pages:
        page.goto(f"{live_pipo}{path}")
        assert_inert(page, dialogs, path)
        seen += shown_text(page)
        change = page.locator("#result_list tbody tr th a").first
        if change.count():
            change.click()
            assert_inert(page, dialogs, f"a change page of {path}")
            seen += shown_text(page)
    for payload in TEXTS:
        assert payload.split("\n")[0][:60] in seen, payload


@pytest.mark.parametrize("name", ["img-onerror", "script", "svg-onload", "htmx-on"])
def test_the_browser_checks_catch_a_payload_left_raw(watched, name):
    # The checks above are only worth something if an unescaped payload fails them.
    page, dialogs = watched
    payload = dict(PAYLOADS)[name]
    page.set_content(f"<!doctype html><body><p>{payload}</p></body>")
    with pytest.raises(AssertionError):
        assert_inert(page, dialogs, name)
