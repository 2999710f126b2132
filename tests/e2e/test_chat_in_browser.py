"""A person in a real browser: sign up, chat, watch the reply stream, reload, stop."""

import re

from playwright.sync_api import Page, expect

REPLY = " ".join(f"word{i}" for i in range(40))


def test_sign_up_chat_stream_reload_and_stop(page: Page, live_pipo, ollama_for_browser, tmp_path):
    ollama_for_browser.reply = REPLY
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(live_pipo)
    expect(page).to_have_url(re.compile(r"/accounts/signin/"))
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("ada@example.test")
    page.get_by_label("Password").fill("a-long-passphrase-42")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("button", name="Start a conversation").click()
    expect(page).to_have_url(re.compile(r"/c/\d+/$"))

    box = page.get_by_label("Message")
    box.fill("Hello <img src=x onerror=alert(1)>")
    box.press("Shift+Enter")  # a new line, not a send
    box.press_sequentially("PIPO")
    expect(page.locator(".msg.user")).to_have_count(0)
    box.press("Enter")

    user_bubble = page.locator(".msg.user").last
    # The first turn recalls, and recall waits for the embedder that the server began
    # exporting to ONNX at start (seconds; much longer at the end of a busy test run).
    expect(page.locator(".msg.user")).to_have_count(1, timeout=120_000)
    assert user_bubble.inner_text() == "Hello <img src=x onerror=alert(1)>\nPIPO"
    reply = page.locator(".msg.assistant").last
    expect(reply).to_have_attribute("data-status", "streaming")
    lengths = []
    while reply.get_attribute("data-status") == "streaming":
        lengths.append(len(reply.locator(".text, .md").first.inner_text()))
        page.wait_for_timeout(60)
    grown = [n for n in lengths if 0 < n < len(REPLY)]
    assert len(set(grown)) >= 3, f"the reply did not grow token by token: {lengths}"
    assert grown == sorted(grown)
    expect(reply).to_have_attribute("data-status", "complete")
    expect(reply.locator(".md")).to_have_text(REPLY)
    expect(reply.locator(".figures")).to_contain_text("40 tokens")
    expect(box).to_have_value("")

    page.reload()
    expect(page.locator(".msg.user")).to_have_count(1)
    expect(page.locator(".msg.assistant .md")).to_have_text(REPLY)
    expect(page.locator(".conversation.current")).to_contain_text("Hello <img src=x")

    ollama_for_browser.token_delay = 0.1
    box = page.get_by_label("Message")
    box.fill("Now a long one")
    box.press("Enter")
    streaming = page.locator('.msg.assistant[data-status="streaming"]')
    expect(streaming.locator(".text")).to_contain_text("word3")
    page.get_by_role("button", name="Stop").click()
    stopped = page.locator(".msg.assistant").last
    expect(stopped).to_have_attribute("data-status", "stopped")
    expect(stopped).to_contain_text("Stopped.")
    expect(stopped.get_by_role("button", name="Retry")).to_be_visible()
    assert len(stopped.locator(".md").inner_text()) < len(REPLY)

    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "chat-phone.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "wider than a phone"
    expect(page.locator("ul.messages")).to_have_count(0)  # no stray notices
    assert dialogs == [], f"script from a message ran: {dialogs}"
