import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from governance.generations.verification import ContentVerification, verify_content


class Command(BaseCommand):
    help = (
        "Verify a video or image: its Content Credentials (signature, hashes, trust against our CA), the "
        "governance facts, and the generation in the log; stripped files are looked up by fingerprint. "
        "Exits 1 when the file was tampered with or its manifest does not validate."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, file: str, json: bool, **options) -> None:
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        with path.open("rb") as stream:
            result = verify_content(stream, filename=path.name)
        self.stdout.write(_as_json(result) if json else _as_text(result))
        if result.manifest.state in ("tampered", "invalid"):
            raise SystemExit(1)


def _summary(result: ContentVerification) -> dict:
    generation = result.generation
    return {
        "file": result.filename,
        "content_type": result.content_type,
        "size": result.size,
        "sha256": result.sha256,
        "manifest": result.manifest.state,
        "verdict": result.verdict,
        "failures": result.manifest.failures,
        "signer": result.manifest.signer,
        "digital_source_types": result.manifest.digital_source_types,
        "governance": result.manifest.facts,
        "ingredients": result.manifest.ingredients,
        "match": result.match,
        "perceptual_distance": result.perceptual_distance,
        "disagreements": result.disagreements,
        "generation": None
        if generation is None
        else {
            "id": generation.video_id,
            "project": generation.project.slug,
            "environment": generation.environment.name,
            "resolved_snapshot": generation.resolved_snapshot,
            "policy_revision": generation.policy_revision.number if generation.policy_revision else None,
            "created_at": generation.created_at.isoformat(),
            "deleted": generation.deleted_at is not None,
        },
    }


def _as_json(result: ContentVerification) -> str:
    return json.dumps(_summary(result), indent=2, default=str)


def _as_text(result: ContentVerification) -> str:
    summary = _summary(result)
    lines = [
        f"{summary['file']} ({summary['content_type']}, {summary['size']} bytes, sha256 {summary['sha256']})",
        f"Verdict: {summary['verdict']}",
        f"Manifest: {summary['manifest']}",
    ]
    lines += [f"  failure: {failure['code']}: {failure['explanation']}" for failure in summary["failures"]]
    if summary["signer"]:
        signer = summary["signer"]
        lines.append(f"  signed by: {signer.get('common_name', '?')} ({signer.get('issuer', '?')})")
    lines += [f"  {name}: {value}" for name, value in summary["governance"].items()]
    lines += [f"  ingredient: {item['title']} ({item['relationship']})" for item in summary["ingredients"]]
    if summary["generation"]:
        row = summary["generation"]
        lines.append(
            f"Generation log: {row['id']} in {row['project']}/{row['environment']}, "
            f"snapshot {row['resolved_snapshot']}, policy revision {row['policy_revision']}, "
            f"created {row['created_at']} (found by {summary['match']})"
        )
    return "\n".join(lines)
