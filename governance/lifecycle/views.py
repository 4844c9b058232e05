"""Lifecycle pages: the impact of shutdowns, project webhooks and their delivery log, snapshot review."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from governance.audit.services import Actor
from governance.catalog.models import Snapshot
from governance.catalog.sync import review_snapshot
from governance.infra import sent_forms
from governance.lib.converters import number_or_none
from governance.lifecycle import selectors
from governance.lifecycle.destinations import PrivateDestinationError
from governance.lifecycle.forms import WebhookForm
from governance.lifecycle.models import Webhook, WebhookDelivery
from governance.lifecycle.services import create_webhook, delete_webhook
from governance.projects import permissions
from governance.projects.models import Environment
from governance.projects.permissions import record_refused_visit, requires, visible_projects

DELIVERY_LOG_SIZE = 50


@require_safe
@login_required
def impact(request: HttpRequest) -> HttpResponse:
    """Which of the user's environments depend on each deprecated or shut-down snapshot, and how much they use it."""
    family = request.GET.get("family", "")[:100]
    snapshot_id = number_or_none(request.GET.get("snapshot", ""))
    environments = Environment.objects.filter(project__in=visible_projects(request.user))
    context = {
        "impacts": selectors.impact(
            environments=environments, now=timezone.now(), family=family, snapshot_id=snapshot_id
        ),
        "family": family,
        "targets": selectors.migration_targets(),
        "today": timezone.now().date(),
    }
    return render(request, "lifecycle/impact.html", context)


@require_http_methods(["GET", "POST"])
@requires(permissions.MANAGE_WEBHOOKS)
def webhooks(request: HttpRequest, project, role) -> HttpResponse:
    form = WebhookForm(request.POST or None, initial={"form_token": sent_forms.new_token()})
    created_secret = None
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["form_token"]
        if (made := sent_forms.claim(request, "webhook", token)) is not None:
            return _webhook_form_sent_again(request, project, made)
        try:
            with sent_forms.making(request, "webhook", token) as made:
                webhook, created_secret = create_webhook(
                    project=project,
                    url=form.cleaned_data["url"],
                    description=form.cleaned_data["description"],
                    actor=Actor.for_user(request.user),
                    kind=form.cleaned_data["kind"],
                )
                made(webhook.pk)
            if created_secret is None:  # Slack or Teams: nothing to copy, and the URL is not shown again
                messages.success(request, _chat_destination_added(webhook))
                return redirect("lifecycle:webhooks", project.slug)
            form = WebhookForm(initial={"form_token": sent_forms.new_token()})
        except PrivateDestinationError as error:
            form.add_error("url", str(error))
    context = {
        "project": project,
        "form": form,
        "created_secret": created_secret,
        "webhooks": Webhook.objects.active().filter(project=project),
        "deliveries": WebhookDelivery.objects.filter(webhook__project=project).select_related("webhook")[
            :DELIVERY_LOG_SIZE
        ],
    }
    response = render(request, "lifecycle/webhooks.html", context, status=400 if form.errors else 200)
    if created_secret:  # the secret exists only in this response: never cached, never shown again
        add_never_cache_headers(response)
    return response


def _chat_destination_added(webhook: Webhook) -> str:
    return (
        f"{webhook.get_kind_display()} added: project events now reach it as messages. Its URL is a secret: it is "
        f"stored encrypted and shown from now on only as {webhook.url}."
    )


def _webhook_form_sent_again(request: HttpRequest, project, webhook_id: int) -> HttpResponse:
    """The browser resent a form that already added a webhook (a reload of the page with its secret, a double click)."""
    webhook = Webhook.objects.active().filter(pk=webhook_id, project=project).first()
    if webhook is not None and webhook.is_chat:
        messages.warning(request, f"No new webhook: {webhook.url} was already added when this form was first sent.")
    elif webhook is not None:
        messages.warning(
            request,
            f"No new webhook: {webhook.url} was already added when this form was first sent, and its signing "
            "secret was shown then, once. If nobody copied it, delete the webhook and add it again.",
        )
    else:  # sent twice at once (a double click): the first sending is still adding it
        messages.warning(request, "This form was sent twice; only one webhook is added, by the first sending.")
    return redirect("lifecycle:webhooks", project.slug)


@require_POST
@requires(permissions.MANAGE_WEBHOOKS)
def webhook_delete(request: HttpRequest, project, role, webhook_id: int) -> HttpResponse:
    webhook = Webhook.objects.active().filter(project=project, pk=webhook_id).first()
    if webhook is None:
        raise Http404("No such webhook in this project.")
    delete_webhook(webhook=webhook, actor=Actor.for_user(request.user))
    messages.success(request, f"Webhook {webhook.url} deleted; it receives nothing more. Its deliveries stay logged.")
    return redirect("lifecycle:webhooks", project_slug=project.slug)


@require_POST
@login_required
def snapshot_review(request: HttpRequest, snapshot_id: int) -> HttpResponse:
    """A site admin accepts a snapshot a provider sync discovered, so policies may use it."""
    if not request.user.is_superuser:
        record_refused_visit(
            user=request.user, path=request.path, method=request.method, reason="reviewing snapshots needs a site admin"
        )
        return render(request, "403.html", status=403)
    snapshot = get_object_or_404(Snapshot.objects.select_related("provider"), pk=snapshot_id)
    if review_snapshot(snapshot, actor=Actor.for_user(request.user)):
        messages.success(request, f"{snapshot.name} reviewed: policies may now use it.")
    return redirect(reverse("catalog:catalog") + "#providers-heading")
