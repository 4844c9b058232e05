"""`governance export|plan|apply`: a project's policies as a file in its repository (docs/policy-as-code.md).

Exit codes: export and apply 0 when done; plan 0 when the file says what is in force and 2 when it differs
(so CI can gate on it); 1 for a file with errors (each printed as FILE:LINE: path: message) or a refused apply.
"""

import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from governance.policy_files import report
from governance.policy_files.schema import FileError, PolicyFileInvalid
from governance.policy_files.services import (
    ApplyRefused,
    apply_changes,
    export_project,
    plan_changes,
    project_of_file,
)
from governance.projects.models import Project

DIFFERS = 2
INVALID = 1


class Command(BaseCommand):
    help = (
        "Policy as code: `export PROJECT` writes a project's policies as a YAML file, `plan FILE` shows how it "
        "differs from what is in force (exit 2 when it does), `apply FILE --reason TEXT --as USERNAME` makes it so."
    )

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{export,plan,apply}")
        export = actions.add_parser("export", help="Write a project's policies in force as a policy file.")
        export.add_argument("project", help="The project's slug, e.g. studio.")
        export.add_argument("--output", "-o", help="Write to this file instead of standard output.")
        plan = actions.add_parser("plan", help="Show how a policy file differs from what is in force; exit 2 if so.")
        plan.add_argument("file", help="The policy file, or - for standard input.")
        apply = actions.add_parser("apply", help="Apply a policy file: revisions, or plan drafts where protected.")
        apply.add_argument("file", help="The policy file, or - for standard input.")
        apply.add_argument("--reason", required=True, help="Why the policies change; kept with every revision.")
        apply.add_argument(
            "--as",
            dest="username",
            required=True,
            metavar="USERNAME",
            help="Who applies it: a project admin, named on the revisions, the audit trail and as the plans' author.",
        )

    def handle(self, *args, action: str, **options) -> None:
        if action == "export":
            self.export(options["project"], options.get("output"))
        elif action == "plan":
            self.plan(options["file"])
        else:
            self.apply(options["file"], reason=options["reason"], username=options["username"])

    def export(self, slug: str, output: str | None) -> None:
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise CommandError(f"No project '{slug}'.")
        text = export_project(project)
        if output:
            Path(output).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote the policies of {project.slug} to {output}.")
        else:
            self.stdout.write(text, ending="")

    def plan(self, file: str) -> None:
        text = self.read(file)
        project = self.project(file, text)
        plan = plan_changes(project, text, file_name=file)
        if plan.errors:
            self.invalid(file, plan.errors)
        self.stdout.write("\n".join(report.plan_report(plan)))
        if plan.differs:
            raise SystemExit(DIFFERS)

    def apply(self, file: str, *, reason: str, username: str) -> None:
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user '{username}' (--as).")
        text = self.read(file)
        project = self.project(file, text)
        try:
            applied = apply_changes(project, text, user=user, reason=reason, file_name=file)
        except PolicyFileInvalid as invalid:
            self.invalid(file, invalid.errors)
        except ApplyRefused as refusal:
            raise CommandError(refusal.message) from None
        self.stdout.write("\n".join(report.apply_report(applied, user=user, reason=reason.strip())))

    def read(self, file: str) -> str:
        try:
            data = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.invalid(file, [FileError(1, "", "is not UTF-8 text")])

    def project(self, file: str, text: str) -> Project:
        try:
            return project_of_file(text)
        except PolicyFileInvalid as invalid:
            self.invalid(file, invalid.errors)

    def invalid(self, file: str, errors: list[FileError]) -> None:
        """Print every error, as FILE:LINE: path: message, and stop with exit code 1: nothing was applied."""
        for error in errors:
            self.stderr.write(error.shown(file))
        count = f"{len(errors)} error{'s' if len(errors) != 1 else ''}"
        self.stderr.write(f"{file}: {count}; nothing applied.")
        raise SystemExit(INVALID)
