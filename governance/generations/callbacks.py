"""Providers' completion callbacks: `POST /callbacks/<provider kind>/<signed token>`.

The address handed to the provider names the generation, signed (tracking.callback_token), so nobody
can make the gateway poll a job that is not theirs. The body is never trusted: a good token only makes
the tracker poll that job now, through the provider's own API, as any poll does. Polling stays the
fallback for a callback that never comes. A job's callbacks are counted like an API key's requests
(ratelimit.py): past GENERATION_CALLBACKS_PER_MINUTE a minute, a replayed address answers 429 and polls nothing.
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from governance.generations import tasks, tracking
from governance.generations.models import TRACKED_STEP, Generation
from governance.generations.ratelimit import seconds_until_callback_allowed


@csrf_exempt
@require_POST
def provider_callback(request: HttpRequest, kind: str, token: str) -> HttpResponse:
    generation_id = tracking.generation_for_callback(token)
    if generation_id is None:
        return JsonResponse({"error": "unknown callback"}, status=404)
    retry_after = seconds_until_callback_allowed(
        generation_id=generation_id, per_minute=settings.GENERATION_CALLBACKS_PER_MINUTE
    )
    if retry_after is not None:
        response = JsonResponse({"error": "too many callbacks for this job"}, status=429)
        response["Retry-After"] = str(retry_after)
        return response
    provider_id = (
        Generation.objects.filter(pk=generation_id, provider__kind=kind, step_token=TRACKED_STEP)
        .values_list("provider_id", flat=True)
        .first()
    )
    if provider_id is not None:
        tasks.poll_generations.delay(provider_id, [generation_id])
    return JsonResponse({})
