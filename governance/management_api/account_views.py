"""The Access tokens page of a signed-in user's account: make a token (shown once), list and revoke them.

Everyone signed in manages their own tokens and nobody else's; a token acts with its user's role.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods, require_POST

from governance.audit.services import Actor
from governance.infra import sent_forms
from governance.management_api.forms import AccessTokenForm
from governance.management_api.models import AccessToken
from governance.management_api.tokens import create_access_token, revoke_access_token
from governance.projects.permissions import visible_projects

PAGE = "management_api/tokens.html"


@require_http_methods(["GET", "POST"])
@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    projects = visible_projects(request.user)
    form = AccessTokenForm(request.POST or None, projects=projects, initial={"form_token": sent_forms.new_token()})
    if request.method == "POST" and form.is_valid():
        sent = form.cleaned_data["form_token"]
        if (made := sent_forms.claim(request, "access_token", sent)) is not None:
            return _sent_again(request, made)
        with sent_forms.making(request, "access_token", sent) as made:
            token, raw_token = create_access_token(
                user=request.user,
                name=form.cleaned_data["name"],
                projects=form.cleaned_data["projects"],
                actor=Actor.for_user(request.user),
            )
            made(token.pk)
        # The raw token exists only in this response: never stored, never cached, never shown again.
        response = render(request, "management_api/token_created.html", {"token": token, "raw_token": raw_token})
        add_never_cache_headers(response)
        return response
    context = {"form": form, "tokens": _tokens_of(request.user)}
    return render(request, PAGE, context, status=400 if form.errors else 200)


@require_POST
@login_required
def revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = AccessToken.objects.filter(pk=token_id, user=request.user).first()
    if token is None:
        raise Http404("No such token of yours.")
    revoke_access_token(token=token, actor=Actor.for_user(request.user))
    messages.success(request, f"Revoked “{token.name}” ({token.prefix}…). It no longer works.")
    return redirect("access_tokens:tokens")


def _tokens_of(user) -> list[AccessToken]:
    return list(AccessToken.objects.filter(user=user).prefetch_related("projects"))


def _sent_again(request: HttpRequest, token_id: int) -> HttpResponse:
    """The browser resent a form that already made a token (a reload of the page that showed it, a double click)."""
    token = AccessToken.objects.filter(pk=token_id, user=request.user).first()
    if token is not None:
        messages.warning(
            request,
            f"No new token: “{token.name}” ({token.prefix}…) was made when this form was first sent, and shown "
            "then, once. If nobody copied it, revoke it and make another.",
        )
    else:
        messages.warning(request, "This form was sent twice; only one token is made, by the first sending.")
    return redirect("access_tokens:tokens")
