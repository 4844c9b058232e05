"""The document that describes the API, and who the token acts for."""

import hashlib

from django.http import HttpResponse

from governance.management_api import schemas, serializers
from governance.management_api.endpoints import Call, operation
from governance.management_api.tokens import projects_in_reach
from governance.projects import permissions

TAG = "About"


@operation(
    "GET",
    summary="This OpenAPI 3.1 document",
    tag=TAG,
    public=True,
    response={"type": "object", "description": "The OpenAPI document itself."},
)
def openapi_document(call: Call) -> HttpResponse:
    from governance.management_api.openapi import document_bytes  # the document describes this very view

    body = document_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if call.request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=300"
    return response


@operation("GET", summary="Who this token acts for, and with which role in which project", tag=TAG, response=schemas.ME)
def me(call: Call) -> dict:
    user = call.user
    site_wide = "superuser" if user.is_superuser else "auditor" if permissions.can_see_all_projects(user) else None
    projects = projects_in_reach(call.token).order_by("slug")
    return {
        "username": user.get_username(),
        "site_wide": site_wide,
        "token": serializers.token(call.token),
        "projects": [serializers.project_ref(p, permissions.project_role(user, p)) for p in projects],
    }
