"""A generation's parameters as received, readable: an uploaded file by its name, type and size, never Python's repr."""

from django import template
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

register = template.Library()

# What the log keeps about an upload (see generations.uploads.CheckedUpload.log_entry), in words.
UPLOAD_LABELS = {
    "filename": "Name",
    "content_type": "Type",
    "bytes": "Size",
    "dimensions": "Dimensions",
    "duration_seconds": "Duration",
    "sha256": "SHA-256",
}


@register.simple_tag
def received_value(value, name: str = "") -> SafeString:
    """One value: a dict as a small definition list, a list comma-separated (or listed, if of dicts), JSON's words."""
    if isinstance(value, dict):
        rows = ((UPLOAD_LABELS.get(key, key), received_value(item, key)) for key, item in value.items())
        return format_html('<dl class="received">{}</dl>', format_html_join("", "<dt>{}</dt><dd>{}</dd>", rows))
    if isinstance(value, list):
        if name == "dimensions" and len(value) == 2:
            return format_html("{} × {}", *value)
        if any(isinstance(item, dict | list) for item in value):
            items = format_html_join("", "<li>{}</li>", ((received_value(item),) for item in value))
            return format_html('<ol class="received">{}</ol>', items)
        return format_html_join(", ", "{}", ((received_value(item),) for item in value))
    if name == "bytes" and isinstance(value, int):
        return format_html("{}", filesizeformat(value))
    if name == "duration_seconds" and isinstance(value, int | float):
        return format_html("{} s", f"{value:.1f}")
    if name == "sha256":
        return format_html('<code class="hash">{}</code>', value)
    if isinstance(value, bool) or value is None:
        value = {True: "true", False: "false", None: "null"}[value]
    return format_html("<code>{}</code>", value)
