"""Text PIPO can store: PostgreSQL refuses NUL characters, UTF-8 refuses lone surrogates.

JSON can carry either ("\\u0000", "\\ud800"), from the chat socket, the API or an import
file; the checks at those edges refuse them in words before any row is written, instead of
the database failing halfway through.
"""


def text_unstorable_reason(*, text: str) -> str:
    """Why `text` can't be stored, as the end of a sentence ("contains ..."), or ""."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains invalid Unicode (a lone surrogate such as \\ud800)"
    return ""
