from django.core.management.base import CommandParser

from governance.exports import exports
from governance.exports.management.commands._export import ExportCommand


class Command(ExportCommand):
    help = "Export the generation log as CSV or JSON Lines, with a manifest; the export is an audit event."
    kind = exports.GENERATIONS
    filter_options = ("snapshot", "status")

    def add_filter_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--snapshot", default="", metavar="NAME", help="The resolved snapshot.")
        parser.add_argument("--status", default="", help="refused, queued, in_progress, completed or failed")
