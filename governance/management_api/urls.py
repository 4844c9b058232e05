"""The management API's routes, mounted at /api/v1/. Each names the views of its methods (see endpoints.py).

A new endpoint is a view declared with `@operation(...)` in the module of its resource under views/,
and a line here: the OpenAPI document, the checks and the tests follow from the declaration.
"""

from django.urls import re_path

from governance.management_api.endpoints import route
from governance.management_api.views import (
    attention,
    audit,
    generations,
    meta,
    plans,
    policies,
    policy_files,
    projects,
)
from governance.management_api.views.fallback import unknown_url

app_name = "management_api"

PROJECT = "projects/<slug:project>"
ENVIRONMENT = PROJECT + "/environments/<str:environment>"
PLAN = PROJECT + "/plans/<int:plan_id>"
STEP = PLAN + "/steps/<int:step_id>"

urlpatterns = [
    route("openapi.json", meta.openapi_document, name="openapi"),
    route("me", meta.me, name="me"),
    route("projects", projects.list_projects, name="projects"),
    route(PROJECT, projects.get_project, name="project"),
    route(ENVIRONMENT, projects.get_environment, name="environment"),
    route(PROJECT + "/members", projects.list_members, name="members"),
    route(PROJECT + "/members/<str:username>", projects.put_member, projects.delete_member, name="member"),
    route(ENVIRONMENT + "/policy/revisions", policies.list_revisions, policies.create_revision, name="revisions"),
    route(ENVIRONMENT + "/policy/revisions/<int:number>", policies.get_revision, name="revision"),
    route(PROJECT + "/policy-file", policy_files.export_policy_file, name="policy_file"),
    route(PROJECT + "/policy-file/plan", policy_files.plan_policy_file, name="policy_file_plan"),
    route(PROJECT + "/policy-file/apply", policy_files.apply_policy_file, name="policy_file_apply"),
    route(PROJECT + "/plans", plans.list_plans, plans.create_plan, name="plans"),
    route(PLAN, plans.get_plan, plans.edit_plan, name="plan"),
    route(PLAN + "/submit", plans.submit_plan, name="plan_submit"),
    route(PLAN + "/cancel", plans.cancel_plan, name="plan_cancel"),
    route(PLAN + "/rollout/start", plans.start_rollout, name="rollout_start"),
    route(PLAN + "/rollout/advance", plans.advance_rollout, name="rollout_advance"),
    route(PLAN + "/rollback", plans.roll_back, name="rollback"),
    route(STEP + "/evidence", plans.put_evidence, plans.attach_evidence, name="evidence"),
    route(STEP + "/evidence/files/<int:file_id>", plans.evidence_file, name="evidence_file"),
    route(STEP + "/sign-off", plans.sign_off_step, name="sign_off"),
    route("alerts", attention.list_alerts, name="alerts"),
    route("inbox", attention.list_inbox, name="inbox"),
    route("inbox/read", attention.mark_inbox_read, name="inbox_read"),
    route("generations", generations.list_generations, name="generations"),
    route("generations/<id:video_id>", generations.get_generation, name="generation"),
    route("audit/events", audit.list_events, name="audit_events"),
    route("audit/exports", audit.create_export, name="audit_exports"),
    route("audit/exports/<str:export_id>/manifest", audit.get_manifest, name="audit_manifest"),
    re_path(r"^[\s\S]*$", unknown_url, name="unknown_url"),  # not ".*", which stops at a percent-encoded newline
]
