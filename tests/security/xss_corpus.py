"""The XSS corpus, and a check that a page rendered it as inert text.

Every payload that would run creates an element with id `pwned-N`, sets `window.pwned`
or calls `alert(N)`, so a browser test can tell; the server-side check parses the HTML
and looks for what a payload could have injected. Each payload is at most 89 characters,
so the admin's shortened texts (90) still show it whole.
"""

import json
from datetime import timedelta
from html.parser import HTMLParser

from django.utils import timezone

PAYLOADS: list[tuple[str, str]] = [
    ("script", "<script>alert(1);window.pwned=1</script>"),
    ("img-onerror", "<img id=pwned-2 src=x onerror=alert(2)>"),
    ("svg-onload", "<svg id=pwned-3 onload=alert(3)>"),
    ("attr-break-double", '"><img id=pwned-4 src=x onerror=alert(4)>'),
    ("attr-break-single", "'><svg id=pwned-5 onload=alert(5)>"),
    ("attr-break-unquoted", "x onmouseover=alert(6) id=pwned-6 autofocus onfocus=alert(6)"),
    ("javascript-href", '<a id=pwned-7 href="javascript:alert(7)">click</a>'),
    ("markdown-js-link", "[click me](javascript:alert(8))"),
    ("markdown-js-autolink", "<javascript:alert(9)>"),
    ("markdown-entity-scheme", "[x](&#106;avascript:alert(10)) [y](JaVaScRiPt:alert(10))"),
    ("markdown-img", '![pwned](x" onerror="alert(11))'),
    ("entities", "&lt;img id=pwned-12 src=x onerror=alert(12)&gt; &#60;b&#62;"),
    ("htmx-get", '<div id=pwned-13 hx-get="/" hx-trigger="load" hx-swap="outerHTML">'),
    ("htmx-on", '<b id=pwned-14 hx-on:htmx:load="alert(14)" hx-on::load="alert(14)">x</b>'),
    (
        "template",
        "{{ 7|add:7 }} {% now 'Y' %} ${alert(15)} {{constructor.constructor('alert(15)')()}}",
    ),
    ("iframe-srcdoc", '<iframe id=pwned-16 srcdoc="<script>parent.alert(16)</script>">'),
    ("textarea-breakout", "</textarea><img id=pwned-17 src=x onerror=alert(17)>"),
    ("title-breakout", "</title><script>alert(18)</script>"),
    ("details-ontoggle", "<details open id=pwned-19 ontoggle=alert(19)>"),
    ("mutation", "<math><mtext><table><mglyph><style><img id=pwned-20 src=x onerror=alert(20)>"),
    ("nested-script", "<scr<script>ipt>alert(21)</scr</script>ipt>"),
    (
        "unicode",
        "\uff1cscript\uff1ealert(22)\uff1c/script\uff1e \u202egnp.exe "
        "<img/id=pwned-22/src/onerror=alert(22)>",
    ),
    ("zero-width", "<img\u200bid=pwned-23 src=x onerror=alert(23)> java\u200bscript:alert(23)"),
    (
        "code-block",
        "`<img id=pwned-24 src=x onerror=alert(24)>` ```\n<script>alert(24)</script>\n```",
    ),
]
assert all(len(payload) <= 89 for _, payload in PAYLOADS)

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "srcdoc"}
# <svg> is left out: the memory page and the admin draw with it; the payloads' ids catch it.
DANGEROUS_TAGS = {"iframe", "object", "embed", "math", "frame", "base"}


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self._script: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.elements.append((tag, attributes))
        if tag == "script":
            self._script = attributes
            self.scripts.append((attributes, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attributes, text = self.scripts[-1]
            self.scripts[-1] = (attributes, text + data)
        else:
            self.texts.append(data)


def page_parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def injected(html: str) -> list[str]:
    """What in `html` a payload could have put there: empty when the page is inert."""
    page = page_parse(html)
    found = []
    for tag, attributes in page.elements:
        if attributes.get("id", "").startswith("pwned"):
            found.append(f"<{tag} id={attributes['id']}>")
        if tag in DANGEROUS_TAGS:
            found.append(f"<{tag}>")
        for name, value in attributes.items():
            if name.startswith("on"):
                found.append(f"<{tag} {name}=...>")
            squeezed = "".join(value.split()).lower()
            if name in URL_ATTRIBUTES and squeezed.startswith(("javascript:", "data:text/html")):
                found.append(f"<{tag} {name}={value!r}>")
            # hx-confirm and aria-label may quote a payload as text; hx-on runs it as code.
            if name.startswith(("hx-on", "data-hx-on")) and ("alert" in value or "pwned" in value):
                found.append(f"<{tag} {name}={value!r}>")
    for attributes, text in page.scripts:
        if attributes.get("type") != "application/json" and ("alert" in text or "pwned" in text):
            found.append(f"<script>{text[:80]}</script>")
    return found


def shown(html: str) -> str:
    """The page's text and its attribute values (a form field's value), unescaped."""
    page = page_parse(html)
    values = [value for _, attributes in page.elements for value in attributes.values()]
    return "\n".join(page.texts + values)


def export_with(payloads: list[str]) -> bytes:
    """A PIPO export putting every payload in every field a page or the admin shows.

    The first conversation holds each payload as a person's message, a finished reply
    (rendered as Markdown) and a failed reply's error; each payload also titles a
    conversation of its own, is a memory and a day's summary. The persona and portrait
    hold them too, cut to their fields' limits.
    """
    now = timezone.now()
    said = (now - timedelta(days=1)).isoformat()
    everything = " ".join(payloads)
    messages, memories, summaries, conversations = [], [], [], []
    for i, payload in enumerate(payloads):
        base = 100 + i * 3
        messages += [
            {"id": base, "role": "user", "content": payload, "created_at": said},
            {"id": base + 1, "role": "assistant", "content": payload, "model": payload[:100],
             "reply_tokens": 3, "created_at": said},
            {"id": base + 2, "role": "assistant", "content": "", "status": "failed",
             "error": payload, "created_at": said},
        ]  # fmt: skip
        memories.append(
            {
                "id": 1000 + i,
                "text": payload,
                "said_at": said,
                "speaker": payload[:120],
                "source_label": payload[:64],
                "source_messages": [base],
            }
        )
        summaries.append(
            {
                "day": (now - timedelta(days=2 + i)).date().isoformat(),
                "text": payload,
                "model": payload[:100],
                "messages": [base],
            }
        )
        conversations.append(
            {
                "id": i + 1,
                "title": payload[:120],
                "created_at": said,
                "updated_at": said,
                "messages": [],
            }
        )
    conversations[0]["messages"] = messages
    export = {
        "format": "pipo-export",
        "version": 1,
        "persona": {
            "assistant_name": payloads[0][:60],
            "tone": payloads[1 % len(payloads)][:60],
            "traits": [p[:40] for p in payloads[:12]],
            "instructions": everything[:2000],
        },
        "portrait": {"text": everything[:10_000], "memory_count": len(payloads), "model": "m"},
        "conversations": conversations,
        "memories": memories,
        "summaries": summaries,
    }
    return json.dumps(export).encode()
