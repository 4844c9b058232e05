"""Exports of the generation log and the audit trail, as CSV or JSON Lines, each with a manifest.

One place for each rule, used by the browser and the command line alike:

- the filters, and how they are read from text (`parse_filters`);
- the columns each export carries and how every value is written: times in ISO 8601
  UTC with microseconds, JSON values as JSON text, every CSV field quoted, no CSV
  field a spreadsheet would run as a formula (`csv_cell`), rows ending in a newline;
- the stream: rows are read in chunks inside one transaction and encoded as they
  arrive, so memory stays flat whatever the size; the row set is fixed when the
  export starts (generations up to the newest id, audit events up to the chain head),
  so the manifest's row count is exact while new rows keep arriving;
- the manifest, and the `export.made` audit event written once the last byte has been
  produced; its payload holds the manifest's facts, so a manifest can be checked
  against the chain later. An export closed before its end writes no event;
- a signed audit checkpoint written as each export starts. An audit export is fixed at
  that checkpoint; in JSON Lines its last line carries the checkpoint and the Merkle
  proof of its events, so `verify_export` (or governance/audit/proofs.py alone) can
  check it with nothing but the audit public key.

On PostgreSQL the same SELECT runs inside `COPY ... TO STDOUT`, which formats rows in
the server several times faster than Python; the bytes are identical to the portable
path's (tests/exports/test_export_paths.py compares them). JSON Lines keeps one backend
busy turning rows into JSON, so a large one is cut into ranges of its ordering key that
run two at a time on two connections sharing one snapshot (`segmented_copy`).
"""

import datetime as dt
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal
from itertools import islice
from json.encoder import encode_basestring  # the C string encoder json.dumps uses with ensure_ascii=False
from typing import Any

import psycopg
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import (
    Case,
    DecimalField,
    DurationField,
    Expression,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Max,
    Min,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast

from governance.audit import proofs
from governance.audit.checkpoints import CheckpointRefused, write_checkpoint
from governance.audit.keys import signing_key
from governance.audit.models import AuditChainHead, AuditEvent
from governance.audit.selectors import filtered_events
from governance.audit.services import GENESIS_HASH, Actor, record_event
from governance.catalog.models import Snapshot
from governance.exports.segmented_copy import SegmentedCopy, gathered
from governance.generations.models import Generation, LogFilters
from governance.projects.models import Environment, EnvironmentName, Project

GENERATIONS, AUDIT = "generations", "audit"
KINDS = (GENERATIONS, AUDIT)
CSV, JSONL = "csv", "jsonl"
FORMATS = (CSV, JSONL)
CONTENT_TYPES = {CSV: "text/csv; charset=utf-8", JSONL: "application/jsonl; charset=utf-8"}
EXPORT_MADE = "export.made"

BATCH_ROWS = 2000  # rows fetched and encoded at a time on the portable path
SEGMENT_KEYS = 100_000  # ordering-key values per segment of a parallel JSON Lines export
PROOF_CHUNK = 10_000  # event hashes (and exported sequences) read at a time for an audit export's proof line
logger = logging.getLogger(__name__)
ACTION_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")


class ExportError(ValueError):
    """A filter that cannot be applied; the message says why, in words the user can act on."""


# Filters


@dataclass(frozen=True)
class ExportFilters:
    """Which rows an export holds. Times are UTC; `since` is inclusive, `until` exclusive.

    `within_projects` limits a project admin to their own projects (None: every project).
    """

    project: Project | None = None
    environment: str = ""
    snapshot: str = ""
    status: str = ""
    action: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    within_projects: tuple[Project, ...] | None = None

    def log_filters(self) -> LogFilters:
        """The generation log's filters for a generations export."""
        return LogFilters(
            within_projects=self.within_projects,
            project=self.project,
            environment=self.environment,
            snapshot=self.snapshot,
            status=self.status,
            since=self.since,
            until=self.until,
        )

    def describe(self, kind: str) -> dict:
        """The filters as the manifest and the `export.made` event state them."""
        names = ["project", "environment"]
        names += ["snapshot", "status"] if kind == GENERATIONS else ["action"]
        described: dict[str, Any] = {name: getattr(self, name) or None for name in names}
        described["project"] = self.project.slug if self.project else None
        described["since"] = moment_text(self.since) if self.since else None
        described["until"] = moment_text(self.until) if self.until else None
        described["within_projects"] = (
            sorted(project.slug for project in self.within_projects) if self.within_projects is not None else None
        )
        return described


def parse_filters(
    kind: str,
    *,
    project: str = "",
    environment: str = "",
    snapshot: str = "",
    status: str = "",
    action: str = "",
    since: str = "",
    until: str = "",
    within_projects: Iterable[Project] | None = None,
) -> ExportFilters:
    """Filters from text (command options or a form); raises ExportError naming the bad value."""
    if kind == AUDIT and (snapshot or status):
        raise ExportError("Snapshot and status filter generation exports only.")
    if kind == GENERATIONS and action:
        raise ExportError("Action filters audit exports only.")
    scope = tuple(within_projects) if within_projects is not None else None
    filters = ExportFilters(
        project=_project(project, scope) if project else None,
        environment=_environment(environment) if environment else "",
        snapshot=_snapshot(snapshot) if snapshot else "",
        status=_status(status) if status else "",
        action=_action(action) if action else "",
        since=parse_moment(since) if since else None,
        until=parse_moment(until, until=True) if until else None,
        within_projects=scope,
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise ExportError(f"The range is empty: since {since} is not before until {until}.")
    return filters


def parse_moment(text: str, *, until: bool = False) -> dt.datetime:
    """A date (2025-10-06) or a date and time (2025-10-06T14:30:00), in UTC unless it names an offset.

    A date given as `until` means the whole of that day, so the bound is the next midnight.
    """
    text = text.strip()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        day = None
    if day is not None:
        midnight = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        return midnight + dt.timedelta(days=1) if until else midnight
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ExportError(
            f"'{text}' is not an ISO date (2025-10-06) or date and time (2025-10-06T14:30:00Z)."
        ) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _project(slug: str, scope: tuple[Project, ...] | None) -> Project:
    project = Project.objects.filter(slug=slug).first()
    if project is None:
        raise ExportError(f"No project has the slug '{slug}'.")
    if scope is not None and project not in scope:
        allowed = ", ".join(sorted(p.slug for p in scope)) or "none"
        raise ExportError(f"You may export only the projects you administer ({allowed}); '{slug}' is not one of them.")
    return project


def _environment(name: str) -> str:
    if name not in EnvironmentName.values:
        raise ExportError(f"Unknown environment '{name}'; use one of: {', '.join(EnvironmentName.values)}.")
    return name


def _status(status: str) -> str:
    if status not in Generation.Status.values:
        raise ExportError(f"Unknown status '{status}'; use one of: {', '.join(Generation.Status.values)}.")
    return status


def _snapshot(name: str) -> str:
    known = Snapshot.objects.filter(name=name).exists() or Generation.objects.filter(resolved_snapshot=name).exists()
    if not known:
        raise ExportError(f"No snapshot named '{name}' is in the catalog or the generation log.")
    return name


def _action(action: str) -> str:
    if not ACTION_PATTERN.fullmatch(action):
        raise ExportError(f"'{action}' is not an audit action; actions look like 'policy.revised' or 'export.made'.")
    return action


# Columns


TEXT, INTEGER, AMOUNT, MOMENT, DURATION, JSON = "text", "integer", "amount", "moment", "duration", "json"


class JSONText(Func):
    """A JSON column as the database writes it, unparsed (PostgreSQL: jsonb's own text)."""

    template = "%(expressions)s"
    output_field = TextField()


class JSONMember(Func):
    """One member of a JSON object as JSON text, or NULL when the object lacks it."""

    output_field = TextField()

    def __init__(self, expression: str, key: str) -> None:
        if not re.fullmatch(r"[a-z_]+", key):
            raise ValueError(f"unsupported JSON key {key!r}")
        self.key = key
        super().__init__(F(expression))

    def as_sql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template=f"(%(expressions)s -> '{self.key}')", **extra)

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, template=f"(%(expressions)s -> '$.{self.key}')", **extra)


@dataclass(frozen=True)
class Column:
    """One exported column: its name, how its values are written, and the expression that reads them."""

    name: str
    kind: str = TEXT
    expression: Expression | None = None

    @property
    def alias(self) -> str:
        """The name it is selected under (a model field's own name cannot be an annotation)."""
        return f"export_{self.name}"

    def read(self, *, for_copy: bool, as_csv: bool = False) -> Expression:
        """The expression to select; for COPY, one that makes PostgreSQL write what Python would."""
        expression = self.expression if self.expression is not None else F(self.name)
        if for_copy and self.kind in _POSTGRES_TEXT:
            template, output_field = _POSTGRES_TEXT[self.kind]
            expression = Func(expression, template=template, output_field=output_field)
        return CSVCell(expression) if for_copy and as_csv else expression


def moment_text(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _amount_text(value: Decimal) -> str:
    """Dollars with the four decimal places they are stored with (numeric(10,4) prints the same)."""
    return f"{value:.4f}"


def _seconds_text(value: dt.timedelta) -> str:
    microseconds = value // dt.timedelta(microseconds=1)
    whole, fraction = divmod(abs(microseconds), 1_000_000)
    return f"{'-' if microseconds < 0 else ''}{whole}.{fraction:06d}"


# How the portable path writes each kind of value, and the SQL that makes PostgreSQL
# write the same characters (numbers, text and jsonb already come out identical).
_TEXT_OF: dict[str, Callable[[Any], str]] = {
    TEXT: str,
    INTEGER: str,
    AMOUNT: _amount_text,
    MOMENT: moment_text,
    DURATION: _seconds_text,
    JSON: str,
}
_QUOTED_IN_JSON = {TEXT, MOMENT}
_POSTGRES_TEXT = {
    MOMENT: ("to_char((%(expressions)s) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')", TextField()),
    DURATION: ("EXTRACT(EPOCH FROM (%(expressions)s))", DecimalField()),
}

GENERATION_COLUMNS: tuple[Column, ...] = (
    Column("video_id"),
    Column("project", expression=F("project__slug")),
    Column("environment", expression=F("environment__name")),
    Column("operation"),
    Column("requested_model"),
    Column("resolved_snapshot"),
    Column("provider", expression=F("provider__slug")),
    Column("api_version"),
    # 1 when the built-in simulator's dialect of the provider made it, not the provider itself.
    Column("simulated", INTEGER, Cast("simulated", IntegerField())),
    Column("policy_revision", INTEGER, F("policy_revision__number")),
    Column("policy_revision_id", INTEGER),
    Column("canary_arm"),
    Column("parameters", JSON, JSONText("parameters")),
    Column("seed", JSON, JSONMember("parameters", "seed")),
    Column("seconds", INTEGER),
    Column("size"),
    Column("prompt"),
    Column("prompt_sha256"),
    Column("input_reference_sha256"),
    Column("upstream_id"),
    Column("status"),
    Column("error_code"),
    Column("error_message"),
    Column("error_param"),
    Column("created_at", MOMENT),
    Column("started_at", MOMENT),
    Column("completed_at", MOMENT),
    Column("deleted_at", MOMENT),
    Column(
        "latency_seconds",
        DURATION,
        ExpressionWrapper(F("completed_at") - F("created_at"), output_field=DurationField()),
    ),
    Column("estimated_cost", AMOUNT),
    Column(
        "cost",
        AMOUNT,
        Case(
            When(status=Generation.Status.COMPLETED, then=F("estimated_cost")),
            default=Value(Decimal("0.0000")),
            output_field=DecimalField(max_digits=10, decimal_places=4),
        ),
    ),
    Column("remixed_from", expression=F("remixed_from__video_id")),
    # The lineage of a remix, edit or extension: its source, and the snapshot and policy revision that made it.
    Column("source_snapshot", expression=F("remixed_from__resolved_snapshot")),
    Column("source_policy_revision", INTEGER, F("remixed_from__policy_revision__number")),
    Column("source_video_sha256"),
)

AUDIT_COLUMNS: tuple[Column, ...] = (
    Column("sequence", INTEGER),
    Column("occurred_at", MOMENT),
    Column("actor_type"),
    Column("actor_label"),
    Column("action"),
    Column("project", expression=F("project__slug")),
    Column("environment", expression=F("environment__name")),
    Column("object_type"),
    Column("object_id"),
    Column("payload", JSON, JSONText("payload")),
    Column("previous_hash"),
    Column("hash"),
    # What an auditor needs to recompute each hash and check each signature offline (governance/audit/proofs.py).
    Column("actor_user_id", INTEGER),
    Column("project_id", INTEGER),
    Column("environment_id", INTEGER),
    Column("signature"),
)

COLUMNS = {GENERATIONS: GENERATION_COLUMNS, AUDIT: AUDIT_COLUMNS}


# CSV injection: a spreadsheet opening the file runs a cell that begins with one of these as a formula, and
# anyone with a key can plant such text (a refused request's model, say). Following OWASP's guidance on CSV
# injection, such a cell gets a single quote before it, so the spreadsheet shows it as text, on top of every
# field being quoted with its quotes doubled. Every cell, whatever its column: a negative number would be
# prefixed too, though no numeric column holds one. JSON Lines, read by programs, carries values as they are.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """A CSV cell's text: a single quote before a first character that would start a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class CSVCell(Func):
    """`csv_cell` in SQL, for CSV through COPY: the value as text, the same quote before the same characters.

    NULL stays NULL (an empty unquoted field), as the portable path writes None.
    """

    output_field = TextField()

    def as_sql(self, compiler, connection, **extra):
        text, params = compiler.compile(Cast(self.source_expressions[0], TextField()))
        starts = ", ".join(["%s"] * len(FORMULA_STARTS))
        sql = f"((CASE WHEN left({text}, 1) IN ({starts}) THEN '''' ELSE '' END) || {text})"
        return sql, (*params, *FORMULA_STARTS, *params)


def csv_header(columns: Iterable[Column]) -> bytes:
    return (",".join(f'"{column.name}"' for column in columns) + "\n").encode()


def csv_encoder(columns: Iterable[Column]) -> Callable[[tuple], str]:
    """One row as a CSV line: every value quoted (quotes doubled), none a formula, NULL as an empty field."""
    text_of = [_TEXT_OF[column.kind] for column in columns]

    def encode(row: tuple) -> str:
        fields = (
            "" if value is None else '"' + csv_cell(text(value)).replace('"', '""') + '"'
            for text, value in zip(text_of, row, strict=True)
        )
        return ",".join(fields) + "\n"

    return encode


def jsonl_encoder(columns: Iterable[Column]) -> Callable[[tuple], str]:
    """One row as a JSON object on one line; JSON columns are embedded as the database wrote them."""
    parts = [(f'"{column.name}":', _TEXT_OF[column.kind], column.kind in _QUOTED_IN_JSON) for column in columns]

    def encode(row: tuple) -> str:
        members = (
            key + ("null" if value is None else encode_basestring(text(value)) if quoted else text(value))
            for (key, text, quoted), value in zip(parts, row, strict=True)
        )
        return "{" + ",".join(members) + "}\n"

    return encode


# The export


def _selects_nothing(rows: QuerySet) -> bool:
    """Whether a filter no row can match (an environment no project has) left no SQL to run: COPY needs some."""
    try:
        rows.query.sql_with_params()
    except EmptyResultSet:
        return True
    return False


def chain_head() -> AuditChainHead:
    return AuditChainHead.objects.filter(pk=1).first() or AuditChainHead(sequence=0, hash=GENESIS_HASH)


class Export:
    """One export: its bytes come from `stream()`, then `manifest` holds its manifest.

    The stream can be consumed once. After its last byte it records the `export.made`
    event in its own transaction and sets `manifest`; closed before the end (a download
    cut off, a full disk), it records nothing and `manifest` stays None.
    """

    def __init__(
        self,
        *,
        kind: str,
        format: str,
        filters: ExportFilters,
        actor: Actor,
        batch_rows: int = BATCH_ROWS,
        segment_keys: int = SEGMENT_KEYS,
        through_copy: bool | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ExportError(f"Unknown export '{kind}'; use one of: {', '.join(KINDS)}.")
        if format not in FORMATS:
            raise ExportError(f"Unknown format '{format}'; use one of: {', '.join(FORMATS)}.")
        self.kind, self.format, self.filters, self.actor = kind, format, filters, actor
        self.columns = COLUMNS[kind]
        self.export_id = uuid.uuid4().hex
        self.batch_rows = batch_rows
        self.segment_keys = segment_keys
        self.through_copy = connection.vendor == "postgresql" if through_copy is None else through_copy
        self.rows = 0
        self.manifest: dict | None = None
        self.checkpoint: proofs.Checkpoint | None = None
        self._streamed = False

    @property
    def filename(self) -> str:
        return f"{self.kind}-{self.export_id}.{self.format}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.format]

    def stream(self) -> Iterator[bytes]:
        if self._streamed:
            raise RuntimeError("An export can be streamed only once.")
        self._streamed = True
        return self._stream()

    def _stream(self) -> Iterator[bytes]:
        digest, size = hashlib.sha256(), 0
        # Other connections cannot see an enclosing transaction's uncommitted rows.
        may_split = self.through_copy and self.format == JSONL and not connection.in_atomic_block
        self.checkpoint = self._checkpoint()
        # One transaction for the reads: PostgreSQL streams a cursor only inside one.
        with transaction.atomic():
            head = chain_head()
            if self.checkpoint is not None:  # the rows are fixed at the checkpoint, so it covers every one
                head = AuditChainHead(sequence=self.checkpoint.tree_size, hash=self.checkpoint.head_hash)
            keys = self._key_range(head)
            rows, bounds = self._rows(keys, for_copy=self.through_copy)
            segments = self._segments(rows, keys) if may_split else [rows]
            for chunk in self._chunks(segments):
                digest.update(chunk)
                size += len(chunk)
                yield chunk
            if self.carries_proof and self.checkpoint is not None:
                chunk = self._proof_line(head, lines_sha256=digest.hexdigest())
                digest.update(chunk)
                size += len(chunk)
                yield chunk
        self.manifest = self._record(head=head, bounds=bounds, sha256=digest.hexdigest(), size=size)

    @property
    def carries_proof(self) -> bool:
        """Whether the file ends with the checkpoint and the proof of its events (audit events in JSON Lines)."""
        return self.kind == AUDIT and self.format == JSONL

    def _checkpoint(self) -> proofs.Checkpoint | None:
        """A checkpoint with every export: the audit rows it exports are the ones the checkpoint covers.

        A chain that no longer verifies gets none, and the export goes on without it: it is then the evidence.
        """
        try:
            return write_checkpoint()
        except CheckpointRefused as error:
            logger.error("export %s made without a checkpoint: %s", self.export_id, error)
            return None

    def _key_range(self, head: AuditChainHead) -> tuple[str, int, int]:
        """The key rows are ordered by, and its lowest and highest values when the export starts.

        The highest fixes the row set: generations up to the newest id, audit events up to the chain head.
        """
        if self.kind == GENERATIONS:
            span = Generation.objects.aggregate(lowest=Min("pk"), highest=Max("pk"))
            return "pk", span["lowest"] or 0, span["highest"] or 0
        lowest = AuditEvent.objects.aggregate(lowest=Min("sequence"))["lowest"] or 0
        return "sequence", lowest, head.sequence

    def _rows(self, keys: tuple[str, int, int], *, for_copy: bool) -> tuple[QuerySet, dict]:
        """The export's rows, oldest first, as tuples of its columns; and the bounds that fix the row set."""
        key, _, highest = keys
        filtered = (
            Generation.objects.in_log(self.filters.log_filters())
            if self.kind == GENERATIONS
            else filtered_events(self.filters)
        )
        rows = filtered.filter(**{f"{key}__lte": highest}).order_by(key)
        bounds = {"up_to_generation_id": highest} if self.kind == GENERATIONS else {}
        as_csv = self.format == CSV
        reads = {column.alias: column.read(for_copy=for_copy, as_csv=as_csv) for column in self.columns}
        return rows.annotate(**reads).values_list(*reads), bounds

    def _segments(self, rows: QuerySet, keys: tuple[str, int, int]) -> list[QuerySet]:
        """The rows cut into consecutive ranges of their key, `segment_keys` values wide, oldest first."""
        key, lowest, highest = keys
        starts = range(lowest, highest + 1, self.segment_keys)
        return [rows.filter(**{f"{key}__range": (start, start + self.segment_keys - 1)}) for start in starts]

    def _chunks(self, segments: list[QuerySet]) -> Iterator[bytes]:
        if self.format == CSV:
            yield csv_header(self.columns)
        if not self.through_copy or _selects_nothing(segments[0]):
            yield from self._encoded(segments[0])
        elif len(segments) == 1:
            yield from self._copied(segments[0])
        else:
            yield from self._copied_in_parallel(segments)

    def _proof_line(self, head: AuditChainHead, *, lines_sha256: str) -> bytes:
        """The last line: the checkpoint, the subtree roots that rebuild its root from the exported events,
        and a signature over every byte of the lines before it."""
        exported = filtered_events(self.filters).filter(sequence__lte=head.sequence).order_by("sequence")
        sequences = exported.values_list("sequence", flat=True).iterator(chunk_size=PROOF_CHUNK)
        covered = AuditEvent.objects.filter(sequence__lte=head.sequence).order_by("sequence")
        hashes = covered.values_list("hash", flat=True).iterator(chunk_size=PROOF_CHUNK)
        # One pass over both, side by side: memory is one chunk of each and O(log n) subtree roots.
        proof = proofs.range_proof_streamed(
            head.sequence, map(proofs.event_leaf, hashes), (sequence - 1 for sequence in sequences)
        )
        trailer = {
            "format": proofs.PROOF_FORMAT,
            "checkpoint": asdict(self.checkpoint),
            "proof": proof,
            "export_signature": proofs.sign_export_digest(signing_key(), lines_sha256),
        }
        return (json.dumps({"audit_proof": trailer}, sort_keys=True, separators=(",", ":")) + "\n").encode()

    def _encoded(self, rows: QuerySet) -> Iterator[bytes]:
        encode = csv_encoder(self.columns) if self.format == CSV else jsonl_encoder(self.columns)
        fetched = rows.iterator(chunk_size=self.batch_rows)
        while batch := list(islice(fetched, self.batch_rows)):
            self.rows += len(batch)
            yield "".join(map(encode, batch)).encode()

    def _copied(self, rows: QuerySet) -> Iterator[bytes]:
        """The same SELECT, formatted by PostgreSQL's COPY; rows arrive one message each, so they are gathered."""
        with connection.cursor() as cursor:
            with cursor.copy(*self._copy_statement(rows)) as copy:
                yield from gathered(copy)
            self.rows = cursor.rowcount

    def _copied_in_parallel(self, segments: list[QuerySet]) -> Iterator[bytes]:
        """Each segment's COPY, two at a time on two new connections sharing one snapshot, in order."""
        params = connection.get_connection_params()
        copied = SegmentedCopy(
            [self._copy_statement(rows) for rows in segments], connect=lambda: psycopg.connect(**params)
        )
        yield from copied
        self.rows = copied.rows

    def _copy_statement(self, rows: QuerySet) -> tuple[str, tuple]:
        select, params = rows.query.sql_with_params()
        if self.format == CSV:
            return f"COPY ({select}) TO STDOUT WITH (FORMAT csv, FORCE_QUOTE *)", params
        named = ", ".join(f'q."{column.alias}" AS "{column.name}"' for column in self.columns)
        # CSV mode with a quote and delimiter that JSON text never contains (it escapes
        # every control character) passes each line through untouched; text mode would
        # double JSON's backslashes. The ordered subquery keeps the plan streaming.
        statement = (
            f"COPY (SELECT row_to_json(r) FROM (SELECT {named} FROM ({select}) q) r) "
            "TO STDOUT WITH (FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01')"
        )
        return statement, params

    def _record(self, *, head: AuditChainHead, bounds: dict, sha256: str, size: int) -> dict:
        payload = {
            "export_id": self.export_id,
            "kind": self.kind,
            "format": self.format,
            "filters": self.filters.describe(self.kind),
            "columns": [column.name for column in self.columns],
            "rows": self.rows,
            "bytes": size,
            "sha256": sha256,
            "chain_head": {"sequence": head.sequence, "hash": head.hash},
            "checkpoint": _checkpoint_facts(self.checkpoint),
            **bounds,
        }
        project = self.filters.project
        environment = None
        if project is not None and self.filters.environment:
            environment = Environment.objects.filter(project=project, name=self.filters.environment).first()
        event = record_event(
            action=EXPORT_MADE, actor=self.actor, project=project, environment=environment, payload=payload
        )
        return manifest_of(event)


def _checkpoint_facts(checkpoint: proofs.Checkpoint | None) -> dict | None:
    if checkpoint is None:
        return None
    return {name: getattr(checkpoint, name) for name in ("tree_size", "root_hash", "timestamp", "key_id")}


# Manifests


def manifest_of(event: AuditEvent) -> dict:
    """An export's manifest, rebuilt from its `export.made` event: the chain is its record."""
    return {
        **event.payload,
        "exported_by": {"type": event.actor_type, "label": event.actor_label},
        "exported_at": moment_text(event.occurred_at),
        "audit_event": {"sequence": event.sequence, "hash": event.hash},
    }


def manifest_json(manifest: dict) -> str:
    """The manifest file's text; keys sorted, so it reads the same whoever rebuilds it."""
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def export_events(*, made_by=None) -> QuerySet[AuditEvent]:
    """`export.made` events, newest first; `made_by` limits them to one user's exports."""
    events = AuditEvent.objects.filter(action=EXPORT_MADE).order_by("-sequence")
    return events.filter(actor_user=made_by) if made_by is not None else events


FILTER_ORDER = ("project", "environment", "snapshot", "status", "action", "since", "until", "within_projects")


@dataclass(frozen=True)
class ExportRecord:
    """A finished export as the Audit page lists it: its manifest, rebuilt from its event."""

    manifest: dict

    @property
    def exported_at(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.manifest["exported_at"])

    @property
    def filters_text(self) -> str:
        """The filters on one line ("project demo · status failed"), or "everything"."""
        filters = self.manifest.get("filters", {})
        parts = [
            f"{name.replace('_', ' ')} {', '.join(value) if isinstance(value, list) else value}"
            for name in FILTER_ORDER
            if (value := filters.get(name)) not in (None, "")
        ]
        return " · ".join(parts) or "everything"


def recent_exports(*, made_by=None, limit: int = 20) -> list[ExportRecord]:
    return [ExportRecord(manifest_of(event)) for event in export_events(made_by=made_by)[:limit]]


def find_manifest(export_id: str, *, made_by=None) -> dict | None:
    event = export_events(made_by=made_by).filter(payload__export_id=export_id).first()
    return manifest_of(event) if event is not None else None
