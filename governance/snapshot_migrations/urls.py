from django.urls import path

from governance.snapshot_migrations import views

app_name = "snapshot_migrations"

PLAN = "projects/<slug:project_slug>/migrations/<int:plan_id>/"

urlpatterns = [
    path("approvals/", views.approvals, name="approvals"),
    path("projects/<slug:project_slug>/migrations/", views.plan_list, name="plan_list"),
    path("projects/<slug:project_slug>/migrations/new/", views.plan_create, name="plan_create"),
    path("projects/<slug:project_slug>/migrations/checklist/", views.checklist_settings, name="checklist_settings"),
    path(PLAN, views.plan_detail, name="plan_detail"),
    path(PLAN + "edit/", views.plan_edit, name="plan_edit"),
    path(PLAN + "actions/<slug:action>/", views.plan_action, name="plan_action"),
    path(PLAN + "steps/<int:step_id>/sign-off/", views.step_sign_off, name="step_sign_off"),
    path(PLAN + "steps/<int:step_id>/evidence/", views.step_evidence, name="step_evidence"),
    path(PLAN + "steps/<int:step_id>/attach/", views.step_attach, name="step_attach"),
    path(PLAN + "steps/<int:step_id>/files/<int:file_id>/", views.evidence_file, name="evidence_file"),
    path(PLAN + "comparisons/run/", views.comparison_run, name="comparison_run"),
    path(PLAN + "comparisons/<int:pair_id>/verdict/", views.comparison_verdict, name="comparison_verdict"),
]
