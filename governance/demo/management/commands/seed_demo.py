from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from governance.audit.services import Actor
from governance.catalog.models import Provider
from governance.catalog.services import load_pack, read_pack
from governance.demo.users import DEMO_PASSWORD, DEMO_USERS
from governance.lifecycle.services import raise_shutdown_alerts
from governance.policies.engine import (
    ALIAS_FOLLOW,
    ALIAS_PIN,
    ALIAS_REFUSE,
    Operation,
)
from governance.policies.selectors import current_revision
from governance.policies.services import revise_policy
from governance.projects.models import AUDITOR_GROUP, Environment, EnvironmentName, Project, Role
from governance.projects.services import set_membership
from governance.snapshot_migrations.models import ComparisonPrompt
from governance.snapshot_migrations.services import DEFAULT_PROMPTS, template_steps

OLD, NEW = "sora-2-2025-10-06", "sora-2-2025-12-08"
DEMO_POLICIES = {
    EnvironmentName.DEVELOPMENT: dict(
        default_model="sora-2", allowed_snapshots=[OLD, NEW], alias_requests=ALIAS_FOLLOW
    ),
    EnvironmentName.TESTING: dict(default_model=NEW, allowed_snapshots=[NEW], alias_requests=ALIAS_PIN),
    EnvironmentName.STAGING: dict(default_model=NEW, allowed_snapshots=[NEW], alias_requests=ALIAS_PIN),
    EnvironmentName.PRODUCTION: dict(
        default_model=OLD,
        allowed_snapshots=[OLD],
        alias_requests=ALIAS_REFUSE,
        monthly_budget=Decimal("1000.00"),
        # Production may remix, edit and extend, but makes no characters (cameos of real people).
        allowed_operations=[Operation.CREATE, Operation.REMIX, Operation.EDIT, Operation.EXTEND],
    ),
}
# A second project still on OpenAI's real Sora 2 snapshots (the `openai-sora-2` pack), which
# shut down on 2026-09-24: what the lifecycle alerts, the banner and the impact view are for.
SORA_PROJECT = ("launch-videos", "Launch videos")
SORA_POLICIES = {
    EnvironmentName.DEVELOPMENT: dict(
        default_model="sora-2", allowed_snapshots=[OLD, NEW], alias_requests=ALIAS_FOLLOW
    ),
    EnvironmentName.STAGING: dict(default_model=NEW, allowed_snapshots=[NEW], alias_requests=ALIAS_PIN),
    EnvironmentName.PRODUCTION: dict(default_model=OLD, allowed_snapshots=[OLD], alias_requests=ALIAS_REFUSE),
}


# A project that has moved off Sora to the video models teams use now. Every provider runs on the
# simulator's dialect of it until its key is set (docs/providers.md): then the same project calls it.
STUDIO_PROJECT = ("studio", "Studio")
GEMINI_MODEL, RUNWAY_MODEL, VEO_MODEL = "gemini-omni-1.2-flash", "gen4.5", "veo-3.1-generate-001"
STUDIO_POLICIES = {
    EnvironmentName.DEVELOPMENT: (
        "gemini",
        dict(default_model=GEMINI_MODEL, allowed_snapshots=[GEMINI_MODEL], alias_requests=ALIAS_REFUSE),
        "Development tries the Gemini API's current video model.",
    ),
    EnvironmentName.TESTING: (
        "runway",
        dict(
            default_model=RUNWAY_MODEL,
            allowed_snapshots=[RUNWAY_MODEL],
            alias_requests=ALIAS_REFUSE,
            allowed_operations=[Operation.CREATE],
        ),
        "Testing runs Runway's Gen-4.5, text to video.",
    ),
    EnvironmentName.STAGING: (
        "vertex",
        dict(
            default_model=VEO_MODEL,
            allowed_snapshots=[VEO_MODEL],
            alias_requests=ALIAS_REFUSE,
            canary_snapshot=RUNWAY_MODEL,
            canary_provider="runway",
            canary_percent=10,
        ),
        "Staging is pinned on Veo 3.1 at Vertex AI, with a 10% canary to Runway's Gen-4.5.",
    ),
    EnvironmentName.PRODUCTION: (
        "vertex",
        dict(default_model=VEO_MODEL, allowed_snapshots=[VEO_MODEL], alias_requests=ALIAS_REFUSE),
        "Production moved off Sora 2 to Veo 3.1 at Vertex AI, pinned.",
    ),
}
STUDIO_PACKS = ("gemini", "vertex", "runway", "byteplus", "xai", "azure-openai")


class Command(BaseCommand):
    help = "Create the demo users, catalog and the projects `demo`, `launch-videos` and `studio` (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        actor = Actor.system("seed_demo")
        for pack in ("openai-sora-2", "simulator", "simulator-lumen", *STUDIO_PACKS):
            load_pack(read_pack(pack), actor=actor)
        simulator = Provider.objects.get(slug="simulator")

        project, _ = Project.objects.get_or_create(slug="demo", defaults={"name": "Demo"})
        users = self._users()
        for username, role in DEMO_USERS.items():
            if role is not None:
                set_membership(project=project, user=users[username], role=role, actor=actor)

        for name, policy in DEMO_POLICIES.items():
            environment, _ = Environment.objects.get_or_create(
                project=project, name=name, defaults={"protected": name == EnvironmentName.PRODUCTION}
            )
            if current_revision(environment) is None:
                revise_policy(
                    environment=environment,
                    provider=simulator,
                    actor=actor,
                    reason="Demo layering: development follows the alias, production is pinned.",
                    **policy,
                )
        self._migration_demo(project)
        self._sora_project(users, actor)
        self._studio_project(users, actor)
        # The demo's alerts go to the inbox and the dashboard only: their emails would bury `make run`'s welcome.
        alerts = raise_shutdown_alerts(email=False)
        self.stdout.write("Demo ready: project 'demo' with development, testing, staging and production.")
        self.stdout.write(
            f"Project 'launch-videos' is still on OpenAI's shut-down Sora 2 snapshots ({len(alerts)} new alerts,"
            " in each member's inbox and on the dashboard; not emailed)."
        )
        self.stdout.write(
            "Project 'studio' has moved off Sora: Gemini in development, Runway in testing, Veo at Vertex AI in "
            "staging (10% canary to Runway) and production; simulated until each provider's key is set."
        )
        self.stdout.write(f"Logins (password '{DEMO_PASSWORD}'): " + ", ".join(DEMO_USERS))

    def _migration_demo(self, project: Project) -> None:
        """The default checklist template and a small prompt set, so a migration plan can be tried at once."""
        template_steps(project)
        if not ComparisonPrompt.objects.filter(project=project).exists():
            ComparisonPrompt.objects.bulk_create(
                ComparisonPrompt(project=project, prompt=text) for text in DEFAULT_PROMPTS
            )

    def _sora_project(self, users: dict, actor: Actor) -> None:
        openai = Provider.objects.get(slug="openai")
        slug, name = SORA_PROJECT
        project, _ = Project.objects.get_or_create(slug=slug, defaults={"name": name})
        for username, role in DEMO_USERS.items():
            if role is not None:
                set_membership(project=project, user=users[username], role=role, actor=actor)
        for environment_name, policy in SORA_POLICIES.items():
            environment, _ = Environment.objects.get_or_create(
                project=project, name=environment_name, defaults={"protected": environment_name == "production"}
            )
            if current_revision(environment) is None:
                revise_policy(
                    environment=environment,
                    provider=openai,
                    actor=actor,
                    reason="Set up on OpenAI's Sora 2 before its shutdown was announced.",
                    **policy,
                )

    def _studio_project(self, users: dict, actor: Actor) -> None:
        slug, name = STUDIO_PROJECT
        project, _ = Project.objects.get_or_create(slug=slug, defaults={"name": name})
        for username, role in DEMO_USERS.items():
            if role is not None:
                set_membership(project=project, user=users[username], role=role, actor=actor)
        self._migration_demo(project)
        for environment_name, (provider_slug, policy, reason) in STUDIO_POLICIES.items():
            environment, _ = Environment.objects.get_or_create(
                project=project, name=environment_name, defaults={"protected": environment_name == "production"}
            )
            if current_revision(environment) is None:
                policy = dict(policy)
                if "canary_provider" in policy:
                    policy["canary_provider_id"] = Provider.objects.get(slug=policy.pop("canary_provider")).pk
                revise_policy(
                    environment=environment,
                    provider=Provider.objects.get(slug=provider_slug),
                    actor=actor,
                    reason=reason,
                    **policy,
                )

    def _users(self) -> dict:
        User = get_user_model()
        auditors, _ = Group.objects.get_or_create(name=AUDITOR_GROUP)
        users = {}
        for username, role in DEMO_USERS.items():
            user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.com"})
            if created:
                user.set_password(DEMO_PASSWORD)
                # The demo admin also administers the site, so the Django admin shows every record.
                user.is_staff = user.is_superuser = role == Role.ADMIN
                user.save()
            if role is None:
                user.groups.add(auditors)
            users[username] = user
        return users
