"""The OpenAI-compatible Videos API. Views parse, authenticate, call a service and answer."""

import functools
import hashlib
from pathlib import Path

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import etag

from governance.catalog.selectors import catalog_view
from governance.generations import serializers
from governance.generations.admission import api_request_admission
from governance.generations.content import CONTENT_VARIANTS, ArchiveUnreadable, stream_content
from governance.generations.errors import ApiError, error_response
from governance.generations.idempotency import submit_idempotently
from governance.generations.models import Character, Generation
from governance.generations.selectors import offered_models
from governance.generations.services import SUBJECT_HEADER, delete_video, submit
from governance.generations.submissions import find_video, parse_submission
from governance.generations.upstream import UpstreamError
from governance.infra.client_address import client_address
from governance.policies.engine import DERIVED_OPERATIONS, Operation, Refusal
from governance.policies.selectors import policy_in_force
from governance.projects.selectors import KeyHolder
from governance.projects.services import note_refused_api_key

UNREAD_BODY_DRAIN_LIMIT = 2 * 1024 * 1024
OPENAPI_DOCUMENT = Path(__file__).with_name("openapi.json")
API_CONTENT_SECURITY_POLICY = ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
INVALID_API_KEY = Refusal(
    "invalid_api_key",
    "Incorrect or missing API key. Send 'Authorization: Bearer <key>' with a key of a project environment.",
)


def api_endpoint(methods: set[str]):
    """Authenticate the bearer key, allow only `methods`, and turn ApiError into OpenAI's error shape."""

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            response = _answer(view, methods, request, *args, **kwargs)
            discard_unread_body(request)
            return _with_api_policy(response)

        wrapper.allowed_methods = frozenset(methods)  # the OpenAPI test checks each one is documented
        return wrapper

    return decorator


def _answer(view, methods: set[str], request: HttpRequest, *args, **kwargs) -> HttpResponse:
    if request.method not in methods:
        allowed = ", ".join(sorted(methods))
        refusal = Refusal("method_not_allowed", f"{request.method} is not allowed here; use {allowed}.")
        return error_response(refusal, headers={"Allow": allowed})
    token = _bearer_token(request)
    with api_request_admission(token) as admission:
        if admission.holder is None:
            note_refused_api_key(client_ip=client_address(request), presented=token)
            return error_response(INVALID_API_KEY)
        if admission.retry_after is not None:
            return _rate_limited(admission.holder, admission.retry_after)
        request.holder = admission.holder
        try:
            return view(request, *args, **kwargs)
        except ApiError as error:
            return error_response(error.refusal)


def _rate_limited(holder: KeyHolder, retry_after: int) -> HttpResponse:
    refusal = Refusal(
        "rate_limit_exceeded",
        f"Rate limit reached for requests: each key of {holder.project_slug}/{holder.environment_name} may make "
        f"{holder.rate_limit_per_minute} requests per minute. Retry after {retry_after} s.",
    )
    return error_response(refusal, headers={"Retry-After": str(retry_after)})


def discard_unread_body(request: HttpRequest) -> None:
    """Read what is left of a refused request's body, so the client's keep-alive connection survives.

    gunicorn resets a connection whose request body was left unread beyond 64 KB;
    bodies above the drain limit are not worth reading and get that reset.
    """
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if request._read_started or not 0 < length <= UNREAD_BODY_DRAIN_LIMIT:  # Django marks a body once read
        return
    try:
        while request.read(64 * 1024):
            pass
    except Exception:  # the body was already parsed, or the client went away
        return


def _bearer_token(request: HttpRequest) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@api_endpoint({"GET", "POST"})
def videos(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _create_video(request)
    return _list_videos(request)


def _create_video(request: HttpRequest) -> HttpResponse:
    return _generation_response(_submit(request, Operation.CREATE))


def _submit(request: HttpRequest, operation: Operation, video_id: str = "") -> Generation:
    """Read the request as `operation` and submit it once per Idempotency-Key.

    Only a remix, edit or extension looks among the key's videos for its source; a create does not build
    that query (a sixth of a create's CPU).
    """
    videos = _visible(request) if operation in DERIVED_OPERATIONS else None
    submission, fingerprint = parse_submission(operation, body=request, videos=videos, video_id=video_id)
    return submit_idempotently(
        holder=request.holder,
        key=request.headers.get("Idempotency-Key"),
        fingerprint=fingerprint,
        submit_once=lambda: submit(
            holder=request.holder, submission=submission, subject=request.headers.get(SUBJECT_HEADER, "")
        ),
    )


def _generation_response(generation: Generation) -> HttpResponse:
    if generation.status == Generation.Status.REFUSED:
        refusal = Refusal(generation.error_code, generation.error_message, generation.error_param or None)
        return error_response(refusal, headers=_governance_headers(generation))
    return JsonResponse(serializers.video_object(generation), headers=_governance_headers(generation))


def _governance_headers(generation: Generation) -> dict:
    """The one place a generation response's headers are built, for every operation and for refusals.

    A snapshot on its way out adds `Deprecation`, `Sunset` and the successor `Link`; a refusal
    because the snapshot shut down names it too, so a client sees the date and the way out.
    """
    headers = {"X-Governance-Generation": generation.video_id}
    if generation.policy_revision_id:
        headers["X-Governance-Policy-Revision"] = str(generation.policy_revision.number)
    if generation.resolved_snapshot:
        headers["X-Governance-Resolved-Model"] = generation.resolved_snapshot
        if generation.canary_arm:
            headers["X-Governance-Canary-Arm"] = generation.canary_arm
    headers.update(_lifecycle_headers(generation))
    return headers


def _lifecycle_headers(generation: Generation) -> dict:
    if not generation.provider_id:
        return {}
    catalog = catalog_view(generation.provider_id)
    name = generation.resolved_snapshot
    if not name and generation.error_code == "snapshot_shut_down":
        name = catalog.resolve(generation.requested_model or _default_model(generation.environment_id))
    snapshot = catalog.snapshots.get(name) if name else None
    now = timezone.now()
    if snapshot is None or not (snapshot.is_deprecated(now) or snapshot.is_shut_down(now)):
        return {}
    return serializers.deprecation_headers(
        snapshot.deprecated_on or snapshot.shutdown_on, snapshot.shutdown_on, snapshot.replacement
    )


def _default_model(environment_id: int) -> str:
    policy = policy_in_force(environment_id)
    return policy.view.default_model if policy else ""


def _list_videos(request: HttpRequest) -> HttpResponse:
    limit = _int_param(request, "limit", default=20, low=1, high=100)
    order = request.GET.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError("invalid_value", "'order' must be 'asc' or 'desc'.", "order")
    generations = _visible(request).select_related("remixed_from", "policy_revision")
    if after := request.GET.get("after"):
        # An id with a NUL names no video (and PostgreSQL cannot compare with one).
        cursor = None
        if "\x00" not in after:
            cursor = _visible(request).filter(video_id=after).values_list("pk", flat=True).first()
        if cursor is None:
            raise ApiError("invalid_value", f"No video '{after}' to list after.", "after")
        generations = generations.filter(pk__lt=cursor) if order == "desc" else generations.filter(pk__gt=cursor)
    page = list(generations.order_by("-pk" if order == "desc" else "pk")[: limit + 1])
    data = [serializers.video_object(generation) for generation in page[:limit]]
    return JsonResponse(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(page) > limit,
        }
    )


def _int_param(request: HttpRequest, name: str, *, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError("invalid_type", f"'{name}' must be a whole number.", name) from None
    if not low <= value <= high:
        raise ApiError("invalid_value", f"'{name}' must be between {low} and {high}.", name)
    return value


def _visible(request: HttpRequest):
    return Generation.objects.visible_to_api().filter(environment_id=request.holder.environment_id)


def _get_visible(request: HttpRequest, video_id: str) -> Generation:
    return find_video(_visible(request), video_id)


@api_endpoint({"GET", "DELETE"})
def video(request: HttpRequest, video_id: str) -> HttpResponse:
    generation = _get_visible(request, video_id)
    if request.method == "DELETE":
        delete_video(generation)
        return JsonResponse({"id": generation.video_id, "object": "video.deleted", "deleted": True})
    return _generation_response(generation)


@api_endpoint({"GET"})
def video_content(request: HttpRequest, video_id: str) -> HttpResponse:
    variant = request.GET.get("variant", "video")
    if variant not in CONTENT_VARIANTS:
        raise ApiError("invalid_value", f"'variant' must be one of {', '.join(CONTENT_VARIANTS)}.", "variant")
    generation = _get_visible(request, video_id)
    if generation.status != Generation.Status.COMPLETED:
        raise ApiError("video_not_ready", f"Video '{video_id}' is {generation.status}; content exists once completed.")
    try:
        return stream_content(generation, variant, headers=_governance_headers(generation))
    except ArchiveUnreadable as error:
        raise ApiError(error.code, error.message) from None
    except UpstreamError as error:
        code = "video_not_found" if error.status == 404 else "upstream_error"
        raise ApiError(code, f"The provider could not deliver this video's {variant}: {error.message}") from None


@api_endpoint({"POST"})
def video_remix(request: HttpRequest, video_id: str) -> HttpResponse:
    return _generation_response(_submit(request, Operation.REMIX, video_id))


@api_endpoint({"GET"})
def models(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"object": "list", "data": _models_for(request)})


@api_endpoint({"GET"})
def model(request: HttpRequest, model_id: str) -> HttpResponse:
    for entry in _models_for(request):
        if entry["id"] == model_id:
            return JsonResponse(entry)
    raise ApiError("model_not_found", f"The model '{model_id}' is not available to this key.", "model")


def _models_for(request: HttpRequest) -> list[dict]:
    """What this key may ask for now, as OpenAI lists models."""
    offered = offered_models(request.holder.environment_id, now=timezone.now())
    return [serializers.model_object(model.name, model.snapshot, request.holder.project_slug) for model in offered]


@api_endpoint({"POST"})
def video_edit(request: HttpRequest) -> HttpResponse:
    return _derive(request, Operation.EDIT)


@api_endpoint({"POST"})
def video_extension(request: HttpRequest) -> HttpResponse:
    return _derive(request, Operation.EXTEND)


def _derive(request: HttpRequest, operation: Operation) -> HttpResponse:
    return _generation_response(_submit(request, operation))


@api_endpoint({"POST"})
def characters(request: HttpRequest) -> HttpResponse:
    generation = _submit(request, Operation.CHARACTER)
    if generation.status == Generation.Status.REFUSED:
        return _generation_response(generation)
    return _character_response(Character.objects.select_related("generation").get(generation=generation))


@api_endpoint({"GET"})
def character(request: HttpRequest, character_id: str) -> HttpResponse:
    found = (
        Character.objects.select_related("generation__policy_revision")
        .filter(environment_id=request.holder.environment_id, character_id=character_id)
        .first()
    )
    if found is None:
        raise ApiError("character_not_found", f"No character '{character_id}' in this environment.", "character_id")
    return _character_response(found)


def _character_response(found: Character) -> HttpResponse:
    return JsonResponse(serializers.character_object(found), headers=_governance_headers(found.generation))


@functools.cache
def _openapi_document() -> bytes:
    return OPENAPI_DOCUMENT.read_bytes()


@csrf_exempt
@etag(lambda request: hashlib.sha256(_openapi_document()).hexdigest())
def openapi_document(request: HttpRequest) -> HttpResponse:
    """The gateway's OpenAPI 3.1 document, as kept in the repository; public and cacheable."""
    if request.method not in ("GET", "HEAD"):
        discard_unread_body(request)
        refusal = Refusal("method_not_allowed", f"{request.method} is not allowed here; use GET.")
        return error_response(refusal, headers={"Allow": "GET, HEAD"})
    document = _openapi_document()
    response = HttpResponse(b"" if request.method == "HEAD" else document, content_type="application/json")
    response["Content-Length"] = len(document)  # a HEAD says how long the GET would be, and sends no body
    response["Cache-Control"] = "public, max-age=3600"
    return response


def _with_api_policy(response: HttpResponse) -> HttpResponse:
    """The API answers JSON and media, never a page: a fixed Content-Security-Policy that allows nothing.

    django-csp, which builds the dashboard's policy, never sees an API request (governance/infra/api_requests.py).
    """
    response[API_CONTENT_SECURITY_POLICY[0]] = API_CONTENT_SECURITY_POLICY[1]
    return response


@csrf_exempt
def unknown_url(request: HttpRequest) -> HttpResponse:
    discard_unread_body(request)
    return _with_api_policy(error_response(Refusal("unknown_url", f"Invalid URL ({request.method} {request.path}).")))
