"""Providers' completion callbacks: `POST /callbacks/<provider kind>/<signed token>`.

The address handed to the provider names the generation, signed (tracking.callback_token), so nobody
can make the gateway poll a job that is not theirs. The body is never trusted: a good token only makes
the tracker poll that job now, through the provider's own API, as any poll does. Polling stays the
fallback for a callback that never comes.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from governance.generations import tasks, tracking
from governance.generations.models import TRACKED_STEP, Generation


@csrf_exempt
@require_POST
def provider_callback(request: HttpRequest, kind: str, token: str) -> HttpResponse:
    generation_id = tracking.generation_for_callback(token)
    if generation_id is None:
        return JsonResponse({"error": "unknown callback"}, status=404)
    provider_id = (
        Generation.objects.filter(pk=generation_id, provider__kind=kind, step_token=TRACKED_STEP)
        .values_list("provider_id", flat=True)
        .first()
    )
    if provider_id is not None:
        tasks.poll_generations.delay(provider_id, [generation_id])
    return JsonResponse({})
