"""What needs attention: shutdown alerts of the token's environments, and the user's inbox."""

from governance.lifecycle.selectors import open_alerts
from governance.management_api import schemas, serializers
from governance.management_api.endpoints import Call, operation
from governance.management_api.errors import ApiError
from governance.management_api.tokens import projects_in_reach
from governance.notifications.models import Notification
from governance.notifications.selectors import INBOX_PAGE_SIZE
from governance.notifications.services import mark_read
from governance.projects.models import Environment

PROJECT_FILTER = {"type": "string", "maxLength": 50, "description": "A project's slug."}


@operation(
    "GET",
    summary="Shutdown alerts that still apply to the environments of your projects, tightest first",
    tag="Alerts",
    query={"project": PROJECT_FILTER},
    response=schemas.listing("AlertList", schemas.ALERT),
    errors=(400, 401, 404),
    description="The alerts the dashboard's banner and overview show: one per environment and snapshot.",
)
def list_alerts(call: Call) -> dict:
    projects = projects_in_reach(call.token)
    if "project" in call.query:
        projects = projects.filter(slug=call.query["project"])
        if not projects.exists():
            raise ApiError.not_found(f"No project '{call.query['project']}' among yours.")
    alerts = open_alerts(Environment.objects.filter(project__in=projects))
    ordered = sorted((a for found in alerts.values() for a in found), key=lambda a: (a.threshold_days, -a.pk))
    return {"data": [serializers.alert(alert) for alert in ordered]}


@operation(
    "GET",
    summary="Your inbox, newest first (the latest 50 items)",
    tag="Inbox",
    query={"unread": {"type": "boolean", "description": "Only unread items."}},
    response=schemas.listing("InboxList", schemas.NOTIFICATION),
    errors=(400, 401),
    description="A token limited to some projects sees only their items.",
)
def list_inbox(call: Call) -> dict:
    items = _inbox(call).select_related("project")
    if call.query.get("unread"):
        items = items.unread()
    return {"data": [serializers.notification(item) for item in items[:INBOX_PAGE_SIZE]]}


@operation(
    "POST",
    summary="Mark inbox items read: the ones named, or every unread one",
    tag="Inbox",
    body=schemas.MARK_READ,
    response=schemas.record("MarkedRead", {"marked": {"type": "integer"}}),
    errors=(400, 401),
)
def mark_inbox_read(call: Call) -> dict:
    ids = list(_inbox(call).unread().values_list("pk", flat=True))
    if "ids" in call.body:
        ids = sorted(set(ids) & set(call.body["ids"]))
    return {"marked": mark_read(call.user, ids)}


def _inbox(call: Call):
    items = Notification.objects.for_user(call.user)
    if call.token.projects.exists():
        items = items.filter(project__in=projects_in_reach(call.token))
    return items
