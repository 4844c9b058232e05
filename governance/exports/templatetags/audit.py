import json

from django import template
from django.apps import apps

from governance.projects.permissions import audit_access

register = template.Library()


@register.simple_tag
def may_audit(user) -> bool:
    """Whether to offer the Audit page in the navigation; the views check again on every request."""
    return audit_access(user) is not None


@register.filter
def pretty_json(value) -> str:
    """An event's payload as people read it: indented, keys sorted, non-ASCII kept (the template escapes it)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


@register.filter
def target_name(event) -> str:
    """An event's target as people name it ("API key 3"), from the model label the chain records."""
    try:
        model = apps.get_model(event.object_type)
    except (LookupError, ValueError):
        return f"{event.object_type} {event.object_id}"
    name = str(model._meta.verbose_name)
    return f"{name[:1].upper()}{name[1:]} {event.object_id}"
