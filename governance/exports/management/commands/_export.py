"""What export_generations and export_audit share: options, writing the stream, placing the manifest."""

import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from governance.audit.services import Actor
from governance.exports import exports


class ExportCommand(BaseCommand):
    kind: str = ""
    filter_options: tuple[str, ...] = ()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", required=True, choices=exports.FORMATS)
        parser.add_argument("--project", default="", metavar="SLUG")
        parser.add_argument("--environment", default="", metavar="NAME")
        self.add_filter_arguments(parser)
        parser.add_argument("--since", default="", metavar="WHEN", help="ISO date or date and time, UTC; inclusive.")
        parser.add_argument(
            "--until", default="", metavar="WHEN", help="ISO date (that whole day) or date and time (exclusive), UTC."
        )
        parser.add_argument("--output", default="", metavar="FILE", help="Write here instead of stdout.")
        parser.add_argument(
            "--manifest",
            default="",
            metavar="PATH",
            help="Where the manifest goes (default: FILE.manifest.json with --output, else stderr).",
        )

    def add_filter_arguments(self, parser: CommandParser) -> None:
        """The options of this kind's own filters (snapshot and status, or action)."""

    def handle(self, *args, **options) -> None:
        try:
            filters = exports.parse_filters(
                self.kind,
                **{name: options[name] for name in ("project", "environment", "since", "until")},
                **{name: options[name] for name in self.filter_options},
            )
        except exports.ExportError as error:
            raise CommandError(str(error)) from None
        export = exports.Export(kind=self.kind, format=options["format"], filters=filters, actor=self.actor())
        output = Path(options["output"]) if options["output"] else None
        if output is None:
            self.write_to_stdout(export)
        else:
            self.write_to_file(export, output)
        self.place_manifest(export, output, options["manifest"])

    def actor(self) -> Actor:
        try:
            os_user = getpass.getuser()
        except (KeyError, OSError):
            os_user = "unknown"
        command = self.__module__.rsplit(".", 1)[-1]
        return Actor.system(f"manage.py {command} (OS user {os_user})")

    def write_to_stdout(self, export: exports.Export) -> None:
        out = getattr(self.stdout, "buffer", None)
        if out is None:
            raise CommandError("stdout does not take bytes here; use --output FILE.")
        self.stdout.flush()
        try:
            self.write(export, out)
        except BrokenPipeError:
            raise CommandError(
                "The reader closed the output before the export ended; no export was recorded."
            ) from None

    def write_to_file(self, export: exports.Export, output: Path) -> None:
        """An export that fails half-way leaves no file that could pass for a whole one."""
        try:
            with open(output, "wb") as out:
                self.write(export, out)
        except BaseException:
            if output.is_file():
                output.unlink()
            raise

    @staticmethod
    def write(export: exports.Export, out) -> None:
        # Flushed chunk by chunk: a failed write stops the export before the step that records it.
        for chunk in export.stream():
            out.write(chunk)
            out.flush()

    def place_manifest(self, export: exports.Export, output: Path | None, manifest_path: str) -> None:
        text = exports.manifest_json(export.manifest)
        target = Path(manifest_path) if manifest_path else (Path(f"{output}.manifest.json") if output else None)
        if target is None:
            self.stderr.write(text, ending="", style_func=lambda message: message)
            return
        target.write_text(text)
        if output is not None:
            manifest = export.manifest
            self.stdout.write(
                f"Exported {manifest['rows']} rows to {output} (sha256 {manifest['sha256']}); "
                f"manifest {target}; audit event {manifest['audit_event']['sequence']}."
            )
