"""A project's policies in force, written as a policy file (docs/policy-as-code.md).

Every key is written, nulls included, so the file says all that is in force and `plan` finds no
difference in it. The first environment carries a comment on each key saying what its values mean.
"""

import io
from decimal import Decimal

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from governance.policies.models import PolicyRevision
from governance.projects.models import Environment, Project

COMMENT_COLUMN = 44
KEY_WORDS = {
    "protected": "set in the admin; true: apply opens a migration plan draft instead",
    "provider": "a provider's slug, as on the catalog page",
    "pin": "the pinned snapshot, or an alias the environment follows",
    "allowed_snapshots": "requests may name these; the pin must be among them",
    "alias_requests": "follow | pin | refuse",
    "canary": "null, or snapshot, provider and percent",
    "max_seconds": "null: any length the snapshot supports",
    "sizes": "null: any size the snapshot supports",
    "features": "null: any feature the snapshot supports",
    "budget": "US dollars a month; null: no budget",
    "operations": "null: every operation the snapshot supports",
    "rate_limit": "requests per minute per API key; 0: no limit",
}


def policy_file_text(project: Project, environments: list[tuple[Environment, PolicyRevision | None]]) -> str:
    """The file for `environments` (in order, each with its revision in force); those without a policy are left
    out, and the header says so."""
    header = [
        f"Policies of project {project.name} ({project.slug}), as in force when exported.",
        "Schema: docs/policy-as-code.md. Check a change with `python manage.py governance plan FILE`,",
        "apply it with `python manage.py governance apply FILE --reason TEXT --as USERNAME`.",
    ]
    without_policy = [environment.name for environment, revision in environments if revision is None]
    if without_policy:
        header.append(f"Not in this file, no policy yet: {', '.join(without_policy)}.")
    described = CommentedMap()
    for environment, revision in environments:
        if revision is not None:
            described[environment.name] = _environment(environment, revision, commented=not described)
    document = CommentedMap(project=project.slug, environments=described)
    document.yaml_set_start_comment("\n".join(header))
    out = io.StringIO()
    _yaml().dump(document, out)
    return out.getvalue()


def _environment(environment: Environment, revision: PolicyRevision, *, commented: bool) -> CommentedMap:
    canary = None
    if revision.canary_snapshot:
        canary = CommentedMap(
            snapshot=revision.canary_snapshot,
            provider=(revision.canary_provider or revision.provider).slug,
            percent=revision.canary_percent,
        )
    limits = CommentedMap(
        max_seconds=revision.max_seconds,
        sizes=_listed(revision.allowed_sizes),
        features=_listed(revision.allowed_features),
    )
    body = CommentedMap(
        protected=environment.protected,
        provider=revision.provider.slug,
        pin=revision.default_model,
        allowed_snapshots=_listed(revision.allowed_snapshots),
        alias_requests=revision.alias_requests,
        canary=canary,
        limits=limits,
        budget=revision.monthly_budget,
        operations=_listed(revision.allowed_operations),
        rate_limit=environment.rate_limit_per_minute,
    )
    if commented:
        for mapping in (body, limits):
            for key in mapping:
                if key in KEY_WORDS:
                    mapping.yaml_add_eol_comment(KEY_WORDS[key], key, column=COMMENT_COLUMN)
    return body


def _listed(values) -> CommentedSeq | None:
    """A list on one line ([a, b]), in a stable order; None stays null."""
    if not values:
        return None
    listed = CommentedSeq(sorted(values))
    listed.fa.set_flow_style()
    return listed


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096  # one line per list, however long
    yaml.representer.ignore_aliases = lambda data: True
    yaml.representer.add_representer(type(None), _null)
    yaml.representer.add_representer(Decimal, _decimal)
    return yaml


def _null(representer, data):
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _decimal(representer, data: Decimal):
    return representer.represent_scalar("tag:yaml.org,2002:float", f"{data:f}")
