"""Rows as the management API answers them, each in the shape its schema in `schemas.py` documents."""

import datetime as dt

from django.urls import reverse

from governance.audit.models import AuditEvent
from governance.catalog.selectors import load_catalog_view
from governance.generations.models import Generation
from governance.lifecycle.models import ShutdownAlert
from governance.management_api.models import AccessToken
from governance.management_api.tokens import scope_words
from governance.notifications.models import Notification
from governance.policies.models import PolicyRevision
from governance.projects import permissions
from governance.projects.models import Environment, Membership, Project
from governance.snapshot_migrations.models import ChecklistStep, EvidenceFile, MigrationPlan, SignOff
from governance.snapshot_migrations.services import approvals, step_done


def moment(value: dt.datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def username(user) -> str | None:
    return user.get_username() if user is not None else None


def project_ref(project: Project, role: str) -> dict:
    return {"slug": project.slug, "name": project.name, "role": role}


def project(project: Project, role: str) -> dict:
    environments = project.environments.order_by("pk")
    return {
        **project_ref(project, role),
        "may": permissions.allowed_actions(role),
        "environments": [environment(e) for e in environments],
    }


def environment(environment: Environment) -> dict:
    revision = environment.policy_revisions.select_related("provider", "canary_provider", "created_by")
    current = revision.order_by("-number").first()
    return {
        "name": environment.name,
        "protected": environment.protected,
        "rate_limit_per_minute": environment.rate_limit_per_minute,
        "sign_content": environment.sign_content,
        "prompt_in_credentials": environment.prompt_in_credentials,
        "policy": policy(current) if current is not None else None,
    }


def policy(revision: PolicyRevision) -> dict:
    return {
        "number": revision.number,
        "provider": revision.provider.slug,
        "default_model": revision.default_model,
        "pinned_snapshot": load_catalog_view(revision.provider_id).resolve(revision.default_model),
        "allowed_snapshots": list(revision.allowed_snapshots),
        "alias_requests": revision.alias_requests,
        "canary_snapshot": revision.canary_snapshot,
        "canary_provider": revision.canary_provider.slug if revision.canary_provider_id else None,
        "canary_percent": revision.canary_percent,
        "max_seconds": revision.max_seconds,
        "allowed_sizes": revision.allowed_sizes,
        "allowed_features": revision.allowed_features,
        "allowed_operations": revision.allowed_operations,
        "monthly_budget": str(revision.monthly_budget) if revision.monthly_budget is not None else None,
        "reason": revision.reason,
        "created_by": username(revision.created_by),
        "written_by_plan": revision.written_by_plan,
        "created_at": moment(revision.created_at),
    }


def member(membership: Membership) -> dict:
    return {"username": membership.user.get_username(), "role": membership.role}


def token(token: AccessToken) -> dict:
    return {
        "name": token.name,
        "prefix": token.prefix,
        "projects": scope_words(token),
        "created_at": moment(token.created_at),
        "last_used_at": moment(token.last_used_at),
    }


# Migration plans


def plan_summary(plan: MigrationPlan) -> dict:
    return {
        "id": plan.pk,
        "project": plan.project.slug,
        "environment": plan.environment.name,
        "state": plan.state,
        "from_snapshot": plan.from_snapshot,
        "to_snapshot": plan.to_snapshot,
        "from_provider": plan.from_provider.slug if plan.from_provider_id else None,
        "to_provider": plan.to_provider.slug if plan.to_provider_id else None,
        "reason": plan.reason,
        "author": plan.author.get_username(),
        "version": plan.version,
        "stages": list(plan.stages),
        "observation_window_hours": round(plan.observation_window.total_seconds() / 3600, 2),
        "auto_rollback": plan.auto_rollback,
        "stage_percent": plan.stage_percent,
        "health": plan.health,
        "created_at": moment(plan.created_at),
        "updated_at": moment(plan.updated_at),
        "finished_at": moment(plan.finished_at),
    }


def plan(plan: MigrationPlan) -> dict:
    return {
        **plan_summary(plan),
        "editors": sorted(user.get_username() for user in plan.editors.all()),
        "steps": [step(plan, s) for s in plan.steps.all()],
    }


def step(plan: MigrationPlan, step: ChecklistStep) -> dict:
    return {
        "id": step.pk,
        "position": step.position,
        "kind": step.kind,
        "title": step.title,
        "description": step.description,
        "required_role": step.required_role,
        "minimum_sign_offs": step.minimum_sign_offs,
        "approvers": sorted(user.get_username() for user in step.approvers.all()),
        "approvals": len(approvals(step)),
        "done": step_done(step),
        "evidence": step.evidence,
        "links": step.links(),
        "files": [evidence_file(plan, f) for f in step.evidence_files.all()],
        "evidence_by": username(step.evidence_by),
        "sign_offs": [sign_off(s) for s in step.sign_offs.all()],
    }


def evidence_file(plan: MigrationPlan, attached: EvidenceFile) -> dict:
    download = reverse("management_api:evidence_file", args=[plan.project.slug, plan.pk, attached.step_id, attached.pk])
    return {
        "id": attached.pk,
        "name": attached.name,
        "content_type": attached.content_type,
        "size": attached.size,
        "sha256": attached.sha256,
        "added_by": attached.added_by.get_username(),
        "added_at": moment(attached.added_at),
        "download": download,
    }


def sign_off(signed: SignOff) -> dict:
    return {
        "user": signed.user.get_username(),
        "decision": signed.decision,
        "comment": signed.comment,
        "plan_version": signed.plan_version,
        "counts": signed.reset_at is None,
        "reset_reason": signed.reset_reason,
        "created_at": moment(signed.created_at),
    }


# Alerts, the inbox, generations, the audit trail


def alert(alert: ShutdownAlert) -> dict:
    return {
        "id": alert.pk,
        "project": alert.environment.project.slug,
        "environment": alert.environment.name,
        "snapshot": alert.snapshot.name,
        "provider": alert.snapshot.provider.slug,
        "threshold_days": alert.threshold_days,
        "shutdown_on": alert.shutdown_on.isoformat(),
        "headline": alert.headline,
        "dependency": alert.dependency_sentence,
        "replacement": alert.snapshot.replacement.name if alert.snapshot.replacement_id else None,
        "created_at": moment(alert.created_at),
    }


def notification(item: Notification) -> dict:
    return {
        "id": item.pk,
        "kind": item.kind,
        "title": item.title,
        "body": item.body,
        "url": item.url,
        "project": item.project.slug if item.project_id else None,
        "created_at": moment(item.created_at),
        "read_at": moment(item.read_at),
    }


def generation(row: Generation) -> dict:
    return {
        "id": row.video_id,
        "project": row.project.slug,
        "environment": row.environment.name,
        "operation": row.operation,
        "status": row.status,
        "requested_model": row.requested_model,
        "resolved_snapshot": row.resolved_snapshot,
        "provider": row.provider.slug if row.provider_id else None,
        "policy_revision": row.policy_revision.number if row.policy_revision_id else None,
        "canary_arm": row.canary_arm,
        "purpose": row.purpose,
        "seconds": row.seconds,
        "size": row.size,
        "prompt_sha256": row.prompt_sha256,
        "error_code": row.error_code,
        "error_message": row.error_message,
        "estimated_cost": str(row.estimated_cost),
        "submitted_by": username(row.submitted_by),
        "created_at": moment(row.created_at),
        "completed_at": moment(row.completed_at),
    }


def audit_event(event: AuditEvent) -> dict:
    return {
        "sequence": event.sequence,
        "occurred_at": moment(event.occurred_at),
        "actor_type": event.actor_type,
        "actor": event.actor_label,
        "action": event.action,
        "project": event.project.slug if event.project_id and event.project else None,
        "environment": event.environment.name if event.environment_id and event.environment else None,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "payload": event.payload,
        "hash": event.hash,
    }
