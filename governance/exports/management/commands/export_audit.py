from django.core.management.base import CommandParser

from governance.exports import exports
from governance.exports.management.commands._export import ExportCommand


class Command(ExportCommand):
    help = "Export audit events as CSV or JSON Lines, with a manifest; the export is itself an audit event."
    kind = exports.AUDIT
    filter_options = ("action",)

    def add_filter_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--action", default="", metavar="ACTION", help="e.g. policy.revised or export.made")
