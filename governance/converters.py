"""URL converters shared by the apps' URL patterns."""


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
