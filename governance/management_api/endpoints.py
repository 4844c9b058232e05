"""How a management API endpoint is declared, routed, authenticated and checked.

A view is a plain function declared with `@operation(...)`: its method, the JSON Schema of its
body and query, what it answers, and the permission-table action it needs in `{project}`.
`route()` puts the operations of one path behind one Django URL pattern. The same declarations
make the OpenAPI document (`openapi.py`) and check every request before the view runs, so the
document and the server cannot disagree.

Before a view runs: the bearer token is checked (sessions never count here), the project is
found among the token's projects and the user's role in it is checked against the table, and
the body and query are validated. The view gets a `Call`; it calls the same services as the
dashboard, inside `acting_through(token)` so that every audit event names the token. Whatever
it raises is answered in the one error shape (`errors.py`).
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.http.response import HttpResponseBase
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from governance.audit.services import acting_through
from governance.infra.client_address import client_address
from governance.management_api import schemas
from governance.management_api.errors import ApiError
from governance.management_api.models import ACCESS_TOKEN_PREFIX, AccessToken
from governance.management_api.tokens import covers, token_for
from governance.policies.services import ProtectedEnvironmentError
from governance.projects import permissions
from governance.projects.models import Project
from governance.projects.services import LastAdminError, note_refused_api_key
from governance.snapshot_migrations.services import PlanRefused

JSON = "application/json"
MULTIPART = "multipart/form-data"
NO_STORE = "no-store"
API_CONTENT_SECURITY_POLICY = "default-src 'none'; frame-ancestors 'none'"
INVALID_TOKEN = (
    "Send 'Authorization: Bearer <token>' with a personal access token "
    "(your account's Access tokens page, or `manage.py create_access_token`)."
)


@dataclass(frozen=True)
class Operation:
    """One method of one path: what the OpenAPI document says of it and what is checked before its view runs."""

    method: str
    view: Callable
    summary: str
    tag: str
    response: dict | None = None
    status: int = 200
    body: dict | None = None
    multipart: dict | None = None
    query: dict[str, dict] = field(default_factory=dict)
    action: str | None = None
    errors: tuple[int, ...] = ()
    media: str | tuple[str, ...] = JSON  # a tuple: several media types, `response` then maps each to its schema
    public: bool = False
    description: str = ""

    @property
    def operation_id(self) -> str:
        return "".join(part.title() if i else part for i, part in enumerate(self.view.__name__.split("_")))


def operation(method: str, *, summary: str, tag: str, **declared) -> Callable:
    """Declare a view as the `method` of its path (see `Operation` for what may be declared)."""

    def declare(view: Callable) -> Callable:
        view.operation = Operation(method=method, view=view, summary=summary, tag=tag, **declared)
        return view

    return declare


@dataclass
class Call:
    """One authenticated request, as a view sees it."""

    request: HttpRequest
    token: AccessToken | None
    body: dict
    query: dict
    files: dict
    project: Project | None = None
    role: str | None = None

    @property
    def user(self):
        return self.token.user


def route(pattern: str, *views: Callable, name: str):
    """One URL pattern serving the declared operations of `views`, one per method."""
    operations = {view.operation.method: view.operation for view in views}

    @csrf_exempt  # a bearer token, never a cookie, authenticates here: nothing a browser sends on its own
    def endpoint(request: HttpRequest, **path_values) -> HttpResponse:
        try:
            response = _answer(request, operations, path_values)
        except ApiError as error:
            response = error.as_response()
        response.setdefault("Cache-Control", NO_STORE)
        response["Content-Security-Policy"] = API_CONTENT_SECURITY_POLICY
        return response

    endpoint.operations = operations
    endpoint.__name__ = name
    return path(pattern, endpoint, name=name)


def _answer(request: HttpRequest, operations: dict[str, Operation], path_values: dict) -> HttpResponse:
    method = "GET" if request.method == "HEAD" and "GET" in operations else request.method
    chosen = operations.get(method)
    if chosen is None:
        allowed = ", ".join(sorted(operations))
        message = f"{request.method} is not allowed here; use {allowed}."
        raise ApiError(405, "method_not_allowed", message, headers={"Allow": allowed})
    token = None if chosen.public else _authenticated(request)
    _check_path(path_values)
    call = Call(request=request, token=token, body={}, query=_query(request, chosen), files={})
    if token is None:
        return _respond(chosen, chosen.view(call, **path_values))
    with acting_through(token.credential()):
        if "project" in path_values:
            path_values["project"] = _project_in_reach(call, chosen, path_values["project"])
        call.body, call.files = _body(request, chosen)
        try:
            return _respond(chosen, chosen.view(call, **path_values))
        except (PlanRefused, ValidationError, LastAdminError) as refusal:  # the services' refusals
            raise service_refusal(refusal) from None


def _respond(chosen: Operation, result: Any) -> HttpResponse:
    if isinstance(result, HttpResponseBase):  # a stream or a file, as the view made it
        return result
    if result is None:
        return HttpResponse(status=204)
    return JsonResponse(result, status=chosen.status, safe=False, json_dumps_params={"ensure_ascii": False})


def service_refusal(refusal: Exception) -> ApiError:
    """A refusal raised by a service, answered with the code and words the dashboard shows."""
    if isinstance(refusal, PlanRefused):
        return ApiError.from_plan_refusal(refusal)
    if isinstance(refusal, ProtectedEnvironmentError):
        return ApiError(403, "protected_environment", " ".join(refusal.messages))
    if isinstance(refusal, LastAdminError):
        return ApiError(409, "last_admin", str(refusal))
    return ApiError.from_validation(refusal)


# Authentication and the project


def bearer_token(request: HttpRequest) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _authenticated(request: HttpRequest) -> AccessToken:
    presented = bearer_token(request)
    token = token_for(presented)
    if token is None:
        note_refused_api_key(
            client_ip=client_address(request),
            presented=presented,
            refused_by="management API",
            known_prefix=ACCESS_TOKEN_PREFIX,
        )
        message = "Unknown, revoked or missing token. " + INVALID_TOKEN
        raise ApiError(401, "invalid_token", message, headers={"WWW-Authenticate": 'Bearer realm="api"'})
    request.user = token.user  # for code that reads the acting user from the request, as pages do
    return token


def _project_in_reach(call: Call, chosen: Operation, slug: str) -> Project:
    """The project named in the path, if the token may act in it, with the user's role checked against the table."""
    project = Project.objects.filter(slug=slug).first()
    role = permissions.project_role(call.user, project) if project is not None else None
    if role is None:
        raise ApiError.not_found(f"No project '{slug}' among yours.")
    if not covers(call.token, project):
        raise ApiError(403, "token_scope", f"This token is limited to other projects than {slug}.")
    call.project, call.role = project, role
    if chosen.action is not None and not permissions.role_allows(role, chosen.action):
        refuse_role(call, chosen.action)
    return project


def refuse_role(call: Call, action: str, **where) -> None:
    """Refuse, audited as a refused page is, naming the role the table asks for."""
    needed = permissions.role_needed(action)
    permissions.record_refused_visit(
        user=call.user,
        path=call.request.path,
        method=call.request.method,
        reason=f"needs {needed} in {call.project.slug}; has {call.role}",
        project=call.project,
        **where,
    )
    raise ApiError(403, "role", f"This needs {needed} in {call.project.slug}; you are {call.role}.")


def _check_path(path_values: dict) -> None:
    """A path value outside its documented form names nothing: a 404, before any query sees it."""
    for name, value in path_values.items():
        if not schemas.is_valid(schemas.PATH_PARAMETERS[name], value):
            raise ApiError.not_found(f"No such {name.replace('_', ' ')}: {str(value)[:100]!r}.")


# Query and body


def _query(request: HttpRequest, chosen: Operation) -> dict:
    """The documented query parameters, typed; others are ignored. Each is checked against its schema."""
    values = {}
    for name, schema in chosen.query.items():
        if name not in request.GET:
            continue
        text = request.GET.get(name, "")
        value = schemas.from_query_text(schema, text)
        problem = schemas.first_problem(schema, value)
        if problem is not None:
            raise ApiError(400, "invalid", f"{name}: {problem}", field=name)
        values[name] = value
    return values


def _body(request: HttpRequest, chosen: Operation) -> tuple[dict, dict]:
    if chosen.body is None and chosen.multipart is None:
        return {}, {}
    content_type = request.content_type or ""
    if not _has_body(request):  # servers name a missing body text/plain: nothing sent is {} whatever it is called
        content_type = JSON
    if content_type == MULTIPART and chosen.multipart is not None:
        return _multipart(request, chosen.multipart)
    if chosen.body is None:
        raise ApiError(415, "unsupported_media_type", f"Send {MULTIPART}.")
    if content_type not in (JSON, ""):
        accepted = JSON if chosen.multipart is None else f"{JSON} or {MULTIPART}"
        raise ApiError(415, "unsupported_media_type", f"Send {accepted}, not {content_type}.")
    body = _json_body(request)
    _validate(chosen.body, body)
    return body, {}


def _has_body(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 1  # unreadable: let the parser say what is wrong
    return length > 0 or "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


def _json_body(request: HttpRequest) -> Any:
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(413, "too_large", "The request body is larger than 1 MB.") from None
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:
        raise ApiError(400, "invalid_json", f"The body is not JSON: {str(error)[:200]}") from None
    schemas.require_clean_text(body)
    return body


def _no_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _multipart(request: HttpRequest, schema: dict) -> tuple[dict, dict]:
    try:
        fields, files = request.POST.dict(), request.FILES
    except RequestDataTooBig:
        raise ApiError(413, "too_large", "The form's fields are larger than 1 MB.") from None
    except (MultiPartParserError, TooManyFieldsSent) as error:
        raise ApiError(400, "invalid_form", f"The multipart body cannot be read: {error}") from None
    schemas.require_clean_text(fields)
    file_fields = [name for name, spec in schema["properties"].items() if spec.get("contentMediaType")]
    for name in schema.get("required", []):
        if name in file_fields and name not in files:
            raise ApiError(400, "invalid", f"Send the file as the form field '{name}'.", field=name)
    form = {name: value for name, value in fields.items() if name not in file_fields}
    _validate(schemas.without(schema, file_fields), form)
    return form, {name: files[name] for name in file_fields if name in files}


def _validate(schema: dict, value: Any) -> None:
    errors = sorted(schemas.validator(schema).iter_errors(value), key=lambda e: (len(e.absolute_path), e.message))
    if not errors:
        return
    details = [{"field": _field(error) or None, "message": _words(error)} for error in errors[:20]]
    first = details[0]
    raise ApiError(400, "invalid", first["message"], field=first["field"], details=details if len(details) > 1 else [])


def _field(error: jsonschema.ValidationError) -> str:
    names = [str(part) for part in error.absolute_path]
    if error.validator == "required" and error.validator_value:
        missing = next((name for name in error.validator_value if name not in (error.instance or {})), None)
        names.append(missing or "")
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        names.append(extra[0] if extra else "")
    return ".".join(name for name in names if name)


def _words(error: jsonschema.ValidationError) -> str:
    where = _field(error)
    message = error.message if len(error.message) <= 300 else error.message[:297] + "…"
    return f"{where}: {message}" if where else message
