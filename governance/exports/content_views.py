"""The Verify content page: an auditor drops a video or image and learns whether it is ours and intact.

Open to auditors, superusers and project admins (the Audit page's rule, checked on the server).
A project admin sees the matching generation's details only for the projects they administer.
"""

from django import forms
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_http_methods

from governance.exports.views import auditors_only
from governance.generations.verification import ContentVerification, verify_content
from governance.projects.permissions import AuditAccess

PAGE = "exports/content_verify.html"


class VerifyContentForm(forms.Form):
    file = forms.FileField(label="Video or image", help_text="An MP4 video, or a JPEG, PNG or WebP image.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.CONTENT_VERIFY_MAX_BYTES:
            limit = filesizeformat(settings.CONTENT_VERIFY_MAX_BYTES)
            raise forms.ValidationError(f"The file is larger than {limit}; verify it with manage.py verify_content.")
        return upload


@require_http_methods(["GET", "POST"])
@auditors_only
def verify_content_page(request: HttpRequest, access: AuditAccess) -> HttpResponse:
    if request.method == "GET":
        return render(request, PAGE, {"form": VerifyContentForm()})
    form = VerifyContentForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render(request, {"form": form}, status=400)
    upload = form.cleaned_data["file"]
    with upload.open("rb") as stream:
        result = verify_content(stream, filename=upload.name)
    context = {"form": VerifyContentForm(), "result": result, "may_see_generation": _may_see(access, result)}
    return _render(request, context)


def _render(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    template = PAGE + "#result" if request.htmx else PAGE
    return render(request, template, context, status=status)


def _may_see(access: AuditAccess, result: ContentVerification) -> bool:
    if result.generation is None:
        return False
    return access.sees_everything or access.projects.filter(pk=result.generation.project_id).exists()
