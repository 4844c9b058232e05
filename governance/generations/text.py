"""Text from clients made safe to store and show."""


def clean_text(text: str) -> str:
    """Text safe to store even when it was refused: no NULs, no unpaired surrogates."""
    return text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
