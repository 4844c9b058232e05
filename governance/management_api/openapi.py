"""The OpenAPI 3.1 document of the management API, made from the routes and their declared operations.

Nothing here is written twice: paths come from `urls.py`, parameters from the route converters and
`schemas.PATH_PARAMETERS`, bodies, queries and answers from each view's `@operation`. Every schema
with a `title` becomes a component and is referred to by `$ref`.
"""

import functools
import json
import re

from django.urls import URLPattern

from governance.management_api import schemas
from governance.management_api.endpoints import JSON, MULTIPART, Operation

PREFIX = "/api/v1/"
TITLE = "Snapshot governance management API"
DESCRIPTION = (
    "Manage projects, policies, migration plans and their sign-offs, alerts, the inbox, the generation log "
    "and audit exports. Authenticate with a personal access token (`Authorization: Bearer sgp_…`) made on "
    "your account's Access tokens page or with `manage.py create_access_token`; it acts with your role in "
    "each project it covers. Every write goes through the services the dashboard uses, with the same "
    'permission table, refusals and audit events. Errors: `{"error": {"code", "message", "field"}}`. '
    "See docs/management-api.md."
)
ERROR_WORDS = {
    400: "The request is not valid: `field` names what is wrong.",
    401: "No token, or one that is unknown, revoked or whose user is deactivated.",
    403: "Your role (or four-eyes, or the token's projects) does not allow it; audited.",
    404: "Nothing there among the token's projects.",
    405: "Another method is needed.",
    409: "The state does not allow it now (a plan not in review, the last admin, …).",
    413: "Too large.",
    415: "Another content type is needed.",
}


def api_patterns() -> list[URLPattern]:
    from governance.management_api import urls  # the routes name the views, which this module serves

    return [pattern for pattern in urls.urlpatterns if hasattr(pattern.callback, "operations")]


def openapi_path(route: str) -> str:
    return PREFIX + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


@functools.cache
def document() -> dict:
    components: dict[str, dict] = {"Error": schemas.ERROR}
    paths = {}
    for pattern in api_patterns():
        route = str(pattern.pattern)
        parameters = [_path_parameter(name) for name in re.findall(r"<(?:\w+:)?(\w+)>", route)]
        item = {"parameters": parameters} if parameters else {}
        for method, declared in sorted(pattern.callback.operations.items()):
            item[method.lower()] = _operation(declared, components, in_path=bool(parameters))
        paths[openapi_path(route)] = item
    document = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": "1.0.0", "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"accessToken": []}],
        "tags": [{"name": tag} for tag in dict.fromkeys(op["tags"][0] for p in paths.values() for op in _ops(p))],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "accessToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal access token (sgp_…): shown once when made, stored as a hash.",
                }
            },
            "schemas": {},
        },
    }
    document["components"]["schemas"] = _component_bodies(components)
    return document


@functools.cache
def document_bytes() -> bytes:
    return json.dumps(document(), indent=2, ensure_ascii=False).encode()


def _ops(item: dict) -> list[dict]:
    return [value for key, value in item.items() if key != "parameters"]


def _path_parameter(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": schemas.PATH_PARAMETERS[name]}


def _operation(declared: Operation, components: dict, *, in_path: bool) -> dict:
    described = {
        "operationId": declared.operation_id,
        "summary": declared.summary,
        "tags": [declared.tag],
        "responses": _responses(declared, components, in_path=in_path),
    }
    if declared.description:
        described["description"] = declared.description
    if declared.action is not None:
        described["x-permission"] = declared.action
    if declared.public:
        described["security"] = []
    if declared.query:
        described["parameters"] = [
            {"name": name, "in": "query", "required": False, "schema": _hoisted(schema, components)}
            for name, schema in declared.query.items()
        ]
    content = {}
    if declared.body is not None:
        content[JSON] = {"schema": _hoisted(declared.body, components)}
    if declared.multipart is not None:
        content[MULTIPART] = {"schema": _hoisted(declared.multipart, components)}
    if content:
        required = bool(declared.multipart) or bool(declared.body.get("required"))
        described["requestBody"] = {"required": required, "content": content}
    return described


def _possible_errors(declared: Operation, *, in_path: bool) -> set[int]:
    """What the checks before any view may answer, with what the view itself declares."""
    errors = set(declared.errors) | {405}
    if not declared.public:
        errors.add(401)
    if in_path:
        errors.add(404)
    if declared.query or declared.body is not None or declared.multipart is not None:
        errors.add(400)
    if declared.body is not None or declared.multipart is not None:
        errors |= {413, 415}
    return errors


def _responses(declared: Operation, components: dict, *, in_path: bool) -> dict:
    if declared.status == 204:
        success = {"description": "Done; nothing to answer."}
    elif isinstance(declared.media, tuple):
        media = {name: {"schema": declared.response[name]} for name in declared.media}
        success = {"description": "Streamed.", "content": media}
    else:
        schema = _hoisted(declared.response or {}, components)
        success = {"description": declared.summary, "content": {declared.media: {"schema": schema}}}
    responses = {str(declared.status): success}
    for status in sorted(_possible_errors(declared, in_path=in_path)):
        responses[str(status)] = {
            "description": ERROR_WORDS[status],
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return responses


def _hoisted(schema, components: dict):
    """The schema as used in place: a titled one becomes a `$ref` to its component (registered here)."""
    if isinstance(schema, dict) and isinstance(schema.get("title"), str):
        known = components.setdefault(schema["title"], schema)
        assert known is schema or known == schema, f"two different schemas are titled {schema['title']}"
        return {"$ref": f"#/components/schemas/{schema['title']}"}
    return _inside(schema, components)


def _inside(schema, components: dict):
    """The schema's own body, with its titled parts referred to."""
    if isinstance(schema, dict):
        return {key: _hoisted(value, components) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_hoisted(item, components) for item in schema]
    return schema


def _component_bodies(components: dict) -> dict:
    """Every registered component's body; bodies may register more, so until none is new."""
    bodies: dict[str, dict] = {}
    while len(bodies) < len(components):
        for name in [name for name in components if name not in bodies]:
            bodies[name] = _inside(components[name], components)
    return dict(sorted(bodies.items()))
