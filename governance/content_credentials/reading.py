"""Reading a file's C2PA manifest back: is it there, is it intact, is its signer trusted, what does it say."""

import json
from dataclasses import dataclass, field
from typing import BinaryIO

import c2pa

from governance.content_credentials.signing import GOVERNANCE_ASSERTION

# Failures that mean the file's bytes no longer match what was signed.
TAMPERING_CODES = ("assertion.dataHash.mismatch", "assertion.bmffHash.mismatch", "assertion.boxesHash.mismatch")
UNTRUSTED_CODE = "signingCredential.untrusted"


class ManifestState:
    ABSENT = "absent"  # no manifest: never signed, or stripped
    TRUSTED = "trusted"  # intact, and signed by a certificate our trust anchors vouch for
    VALID = "valid"  # intact, but the signer is not one of our trust anchors
    TAMPERED = "tampered"  # the manifest is there but the content changed after signing
    INVALID = "invalid"  # the manifest itself does not validate (signature, certificate, structure)


@dataclass(frozen=True)
class ManifestReport:
    state: str
    facts: dict = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    signer: dict = field(default_factory=dict)
    ingredients: list[dict] = field(default_factory=list)
    digital_source_types: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def intact(self) -> bool:
        return self.state in (ManifestState.TRUSTED, ManifestState.VALID)


def _context(trust_anchors: str) -> c2pa.Context | None:
    if not trust_anchors:
        return None
    settings = c2pa.Settings.from_dict({"verify": {"verify_trust": True}, "trust": {"trust_anchors": trust_anchors}})
    return c2pa.Context(settings)


def read_manifest(stream: BinaryIO, content_type: str, *, trust_anchors: str = "") -> ManifestReport:
    """What the file's active manifest says and whether it holds, checked against `trust_anchors` (PEM)."""
    stream.seek(0)
    try:
        reader = c2pa.Reader.try_create(content_type, stream, context=_context(trust_anchors))
    except c2pa.C2paError.NotSupported:
        # A type that cannot carry a manifest (random bytes, a text file) has none, not a broken one.
        return ManifestReport(state=ManifestState.ABSENT, error=f"A {content_type} file cannot carry a C2PA manifest.")
    except c2pa.C2paError as error:
        return ManifestReport(state=ManifestState.INVALID, error=str(error)[:500])
    if reader is None:
        return ManifestReport(state=ManifestState.ABSENT)
    with reader:
        manifest = reader.get_active_manifest() or {}
        results = reader.get_validation_results() or {}
        state = reader.get_validation_state() or ""
    failures = (results.get("activeManifest") or {}).get("failure") or []
    return ManifestReport(
        state=_state(state, failures),
        facts=_assertion(manifest, GOVERNANCE_ASSERTION) or {},
        failures=[
            {"code": failure.get("code", ""), "explanation": failure.get("explanation", "")} for failure in failures
        ],
        signer=manifest.get("signature_info") or {},
        ingredients=[
            {
                "title": item.get("title", ""),
                "relationship": item.get("relationship", ""),
                "manifest": item.get("active_manifest"),
            }
            for item in manifest.get("ingredients") or []
        ],
        digital_source_types=_source_types(manifest),
    )


def _state(validation_state: str, failures: list[dict]) -> str:
    if any(failure.get("code") in TAMPERING_CODES for failure in failures):
        return ManifestState.TAMPERED
    if [failure for failure in failures if failure.get("code") != UNTRUSTED_CODE]:
        return ManifestState.INVALID
    return ManifestState.TRUSTED if validation_state == "Trusted" else ManifestState.VALID


def _assertion(manifest: dict, label: str) -> dict | None:
    for assertion in manifest.get("assertions") or []:
        if assertion.get("label") == label:
            return assertion.get("data")
    return None


def _source_types(manifest: dict) -> list[str]:
    actions = (_assertion(manifest, "c2pa.actions.v2") or {}).get("actions") or []
    return [action["digitalSourceType"] for action in actions if action.get("digitalSourceType")]


def as_json(report: ManifestReport) -> str:
    return json.dumps(report.__dict__, indent=2, sort_keys=True)
