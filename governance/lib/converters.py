"""URL converters shared by the apps' URL patterns, and the reading of a number from a query or form."""


class ObjectId:
    """An id in a URL: any printable text without a slash.

    Control characters (a percent-encoded NUL above all, which PostgreSQL cannot
    compare with) never reach a query; such a URL falls through to a plain 404.
    """

    regex = r"[^/\x00-\x1f\x7f]{1,200}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


def number_or_none(text: str, *, max_digits: int = 18) -> int | None:
    """A row id or cursor from a query or form: ASCII digits only, else None.

    `str.isdigit()` alone admits '²' and other Unicode digits, on which `int()` raises.
    """
    if text.isascii() and text.isdigit() and len(text) <= max_digits:
        return int(text)
    return None
