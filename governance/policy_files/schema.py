"""A policy file read into plain values, each with its line, before anything is looked up in the database.

The file is YAML 1.2, read by ruamel.yaml's round-trip loader: it keeps the line of every key and list
item (`.lc`), refuses a key given twice, and reads `no`, `on` and `yes` as text. This module checks the
file's shape (keys, types, ranges); what the values name (providers, snapshots, sizes) is checked against
the catalog by `services.plan_changes`, with the Policy editor's own rules. Schema: docs/policy-as-code.md.
"""

import difflib
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from governance.policies import engine
from governance.policies.models import PolicyRevision
from governance.projects.models import Environment, EnvironmentName

FILE_KEYS = ("project", "environments")
ENVIRONMENT_KEYS = (
    "protected",
    "provider",
    "pin",
    "allowed_snapshots",
    "alias_requests",
    "canary",
    "limits",
    "budget",
    "operations",
    "rate_limit",
)
CANARY_KEYS = ("snapshot", "provider", "percent")
LIMIT_KEYS = ("max_seconds", "sizes", "features")
ALIAS_CHOICES = tuple(PolicyRevision.AliasRequests.values)
DEFAULT_RATE_LIMIT: int = Environment._meta.get_field("rate_limit_per_minute").default
MAX_FILE_CHARACTERS = 1_000_000
BUDGET_DIGITS, BUDGET_PLACES = 12, 2  # as PolicyRevision.monthly_budget stores it


@dataclass(frozen=True)
class FileError:
    """One thing wrong with a policy file: where (line and dotted key path) and why."""

    line: int
    path: str
    message: str

    def shown(self, file_name: str) -> str:
        """As compilers print errors: `studio.yaml:12: environments.staging.canary.percent: must be …`."""
        where = f"{self.path}: " if self.path else ""
        return f"{file_name}:{self.line}: {where}{self.message}"


class PolicyFileInvalid(Exception):
    """The file cannot be applied; `errors` says every reason found, each with its line."""

    def __init__(self, errors: list[FileError]):
        super().__init__("; ".join(error.shown("policy file") for error in errors))
        self.errors = errors


@dataclass
class EnvironmentSpec:
    """One environment as the file describes it; an absent key takes the default in docs/policy-as-code.md."""

    name: str
    line: int
    lines: dict[str, int] = field(default_factory=dict)  # the line of each key given, by its path ("canary.percent")
    protected: bool | None = None
    provider: str = ""
    pin: str = ""
    allowed_snapshots: list[str] = field(default_factory=list)
    alias_requests: str = engine.ALIAS_REFUSE
    canary_snapshot: str = ""
    canary_provider: str = ""  # empty: the policy's own provider
    canary_percent: int = 0
    max_seconds: int | None = None
    sizes: list[str] | None = None
    features: list[str] | None = None
    budget: Decimal | None = None
    operations: list[str] | None = None
    rate_limit: int = DEFAULT_RATE_LIMIT

    def path(self, key: str = "") -> str:
        return f"environments.{self.name}" + (f".{key}" if key else "")

    def line_of(self, key: str) -> int:
        """The key's line, else its nearest given parent's (a missing canary.percent: the canary's line)."""
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key.rpartition(".")[0]
        return self.line

    def error(self, key: str, message: str) -> FileError:
        return FileError(self.line_of(key), self.path(key), message)


@dataclass
class PolicyFile:
    project: str
    project_line: int
    environments: list[EnvironmentSpec]
    sha256: str


def file_sha256(text: str) -> str:
    """The SHA-256 of the file's UTF-8 bytes: what `sha256sum FILE` prints for it."""
    return hashlib.sha256(text.encode()).hexdigest()


def read_policy_file(text: str) -> PolicyFile:
    """The file's values, or PolicyFileInvalid with every shape error found, each with its line."""
    if len(text) > MAX_FILE_CHARACTERS:
        raise PolicyFileInvalid([FileError(1, "", f"is longer than {MAX_FILE_CHARACTERS:,} characters")])
    try:
        document = YAML(typ="rt").load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        message = " ".join(part for part in (error.context, error.problem) if part)
        raise PolicyFileInvalid([FileError(mark.line + 1 if mark else 1, "", f"not valid YAML: {message}")]) from None
    except YAMLError as error:
        raise PolicyFileInvalid([FileError(1, "", f"not valid YAML: {error}")]) from None
    reader = _Reader()
    policy_file = reader.policy_file(document)
    if reader.errors:
        raise PolicyFileInvalid(sorted(reader.errors, key=lambda error: error.line))
    policy_file.sha256 = file_sha256(text)
    return policy_file


def did_you_mean(given: str, choices) -> str:
    """` (did you mean 'percent'?)` when a choice is close to what was given, else nothing."""
    close = difflib.get_close_matches(str(given), [str(choice) for choice in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Reader:
    """Walks the loaded document and collects every error rather than stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[FileError] = []

    def fail(self, line: int, path: str, message: str) -> None:
        self.errors.append(FileError(line, path, message))

    def policy_file(self, document) -> PolicyFile | None:
        top = self.mapping(document, "", 1, FILE_KEYS, "a mapping with the keys project and environments")
        if top is None:
            return None
        project = self.text(top, "project", "project", 1, required=True)
        environments = []
        given = top.get("environments")
        if "environments" not in top:
            self.fail(1, "environments", "is required: a mapping from environment name to its policy")
        elif not isinstance(given, CommentedMap) or not given:
            self.fail(_key_line(top, "environments"), "environments", "must map environment names to policies")
        else:
            for name in given:
                line = _key_line(given, name)
                if name not in EnvironmentName.values:
                    known = ", ".join(EnvironmentName.values)
                    hint = did_you_mean(name, EnvironmentName.values)
                    self.fail(line, f"environments.{name}", f"unknown environment{hint}; environments are {known}")
                    continue
                spec = self.environment(name, given[name], line)
                if spec is not None:
                    environments.append(spec)
        return PolicyFile(
            project=project or "",
            project_line=_key_line(top, "project") if "project" in top else 1,
            environments=environments,
            sha256="",
        )

    def environment(self, name: str, value, line: int) -> EnvironmentSpec | None:
        spec = EnvironmentSpec(name=name, line=line)
        shape = "a mapping with provider, pin, allowed_snapshots and the optional keys of docs/policy-as-code.md"
        body = self.mapping(value, spec.path(), line, ENVIRONMENT_KEYS, shape)
        if body is None:
            return None
        spec.lines = {key: _key_line(body, key) for key in body}
        path = spec.path
        spec.protected = self.boolean(body, "protected", path("protected"), line)
        spec.provider = self.text(body, "provider", path("provider"), line, required=True)
        spec.pin = self.text(body, "pin", path("pin"), line, required=True)
        spec.allowed_snapshots = self.names(body, "allowed_snapshots", path("allowed_snapshots"), line, required=True)
        spec.alias_requests = self.choice(body, "alias_requests", path("alias_requests"), line)
        self.canary(spec, body)
        self.limits(spec, body)
        spec.budget = self.money(body, "budget", path("budget"))
        spec.operations = self.names(body, "operations", path("operations"), line)
        rate_limit = self.whole(body, "rate_limit", path("rate_limit"), minimum=0)
        spec.rate_limit = DEFAULT_RATE_LIMIT if rate_limit is None else rate_limit
        return spec

    def canary(self, spec: EnvironmentSpec, body: CommentedMap) -> None:
        if body.get("canary") is None:
            return
        canary = self.mapping(body["canary"], spec.path("canary"), spec.line_of("canary"), CANARY_KEYS, "a mapping")
        if canary is None:
            return
        spec.lines.update({f"canary.{key}": _key_line(canary, key) for key in canary})
        line = spec.line_of("canary")
        spec.canary_snapshot = self.text(canary, "snapshot", spec.path("canary.snapshot"), line, required=True)
        spec.canary_provider = self.text(canary, "provider", spec.path("canary.provider"), line)
        percent = self.whole(canary, "percent", spec.path("canary.percent"), minimum=0, maximum=100)
        if "percent" not in canary:
            self.fail(line, spec.path("canary.percent"), "is required: the share of requests, between 0 and 100")
        spec.canary_percent = percent or 0

    def limits(self, spec: EnvironmentSpec, body: CommentedMap) -> None:
        if body.get("limits") is None:
            return
        limits = self.mapping(body["limits"], spec.path("limits"), spec.line_of("limits"), LIMIT_KEYS, "a mapping")
        if limits is None:
            return
        spec.lines.update({f"limits.{key}": _key_line(limits, key) for key in limits})
        spec.max_seconds = self.whole(limits, "max_seconds", spec.path("limits.max_seconds"), minimum=1)
        spec.sizes = self.names(limits, "sizes", spec.path("limits.sizes"), spec.line_of("limits"))
        spec.features = self.names(limits, "features", spec.path("limits.features"), spec.line_of("limits"))

    # One reader per kind of value; each returns None (or "") for an absent or null key.

    def mapping(self, value, path: str, line: int, keys: tuple[str, ...], shape: str) -> CommentedMap | None:
        if not isinstance(value, CommentedMap):
            self.fail(line, path, f"must be {shape}")
            return None
        for key in value:
            if key not in keys:
                where = f"{path}.{key}" if path else str(key)
                self.fail(_key_line(value, key), where, f"unknown key{did_you_mean(key, keys)}")
        return value

    def text(self, body: CommentedMap, key: str, path: str, line: int, *, required: bool = False) -> str:
        value = body.get(key)
        if value is None:
            if required:
                self.fail(_key_line(body, key) if key in body else line, path, "is required")
            return ""
        if not isinstance(value, str) or not value.strip():
            self.fail(_key_line(body, key), path, "must be a name (text)")
            return ""
        return value.strip()

    def choice(self, body: CommentedMap, key: str, path: str, line: int) -> str:
        value = self.text(body, key, path, line)
        if not value:
            return engine.ALIAS_REFUSE
        if value not in ALIAS_CHOICES:
            choices = ", ".join(ALIAS_CHOICES)
            self.fail(_key_line(body, key), path, f"must be one of {choices}{did_you_mean(value, ALIAS_CHOICES)}")
        return value

    def boolean(self, body: CommentedMap, key: str, path: str, line: int) -> bool | None:
        value = body.get(key)
        if value is not None and not isinstance(value, bool):
            self.fail(_key_line(body, key), path, "must be true or false")
            return None
        return value

    def whole(self, body: CommentedMap, key: str, path: str, *, minimum: int, maximum: int | None = None) -> int | None:
        value = body.get(key)
        if value is None:
            return None
        in_words = f"between {minimum} and {maximum}" if maximum is not None else f"{minimum} or more"
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(_key_line(body, key), path, f"must be a whole number {in_words}")
            return None
        if value < minimum or (maximum is not None and value > maximum):
            self.fail(_key_line(body, key), path, f"must be {in_words}")
            return None
        return int(value)

    def money(self, body: CommentedMap, key: str, path: str) -> Decimal | None:
        value = body.get(key)
        if value is None:
            return None
        amount = None
        if not isinstance(value, bool) and isinstance(value, int | float | str):
            try:
                amount = Decimal(str(value))
            except InvalidOperation:
                amount = None
        if amount is None or not amount.is_finite():
            self.fail(_key_line(body, key), path, "must be an amount in US dollars, such as 500 or 499.50")
            return None
        if amount < 0 or amount >= 10 ** (BUDGET_DIGITS - BUDGET_PLACES):
            self.fail(_key_line(body, key), path, f"must be 0 or more, below {10 ** (BUDGET_DIGITS - BUDGET_PLACES):,}")
            return None
        if -amount.as_tuple().exponent > BUDGET_PLACES:
            self.fail(_key_line(body, key), path, f"must have at most {BUDGET_PLACES} decimal places (cents)")
            return None
        return amount.quantize(Decimal(1).scaleb(-BUDGET_PLACES))  # as stored: 500 is $500.00

    def names(self, body: CommentedMap, key: str, path: str, line: int, *, required: bool = False) -> list[str] | None:
        """A list of names. Null or absent means "any" where the key is optional; an empty list is refused,
        because it reads as "nothing allowed" while the policy would read it as "anything allowed"."""
        value = body.get(key)
        if value is None:
            if required:
                self.fail(_key_line(body, key) if key in body else line, path, "is required: a list of names")
            return None
        if not isinstance(value, CommentedSeq):
            self.fail(_key_line(body, key), path, "must be a list of names, such as [a, b]")
            return None
        if not value:
            meaning = "name at least one" if required else "write null (or leave the key out) for any"
            self.fail(_key_line(body, key), path, f"is an empty list: {meaning}")
            return None
        names: list[str] = []
        for index, item in enumerate(value):
            item_line = value.lc.item(index)[0] + 1
            if not isinstance(item, str) or not item.strip():
                self.fail(item_line, f"{path}[{index}]", "must be a name (text)")
            elif item.strip() in names:
                self.fail(item_line, f"{path}[{index}]", f"'{item.strip()}' is listed twice")
            else:
                names.append(item.strip())
        return names


def _key_line(mapping: CommentedMap, key) -> int:
    """The 1-based line of a mapping's key; for a key merged in (`<<: *anchor`), its line in the anchored mapping."""
    try:
        return mapping.lc.key(key)[0] + 1
    except KeyError:
        pass
    for merged in mapping.merge:
        source = merged[-1] if isinstance(merged, tuple) else merged  # (position, mapping) before ruamel.yaml 0.19
        if key in source:
            return _key_line(source, key)
    return mapping.lc.line + 1
