"""Signing with c2pa-python: the development identity, the manifest we write, and a provider's manifest kept."""

import io

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from governance.content_credentials.identity import (
    C2PA_CLAIM_SIGNING,
    SigningIdentity,
    create_development_identity,
    trust_anchors,
)
from governance.content_credentials.reading import ManifestState, read_manifest
from governance.content_credentials.signing import TRAINED_ALGORITHMIC_MEDIA, sign
from governance.simulator.rendering import render

FACTS = {"generation_id": "video_1", "resolved_snapshot": "sora-2-2025-10-06", "policy_revision": 3}


def clip():
    return render(snapshot="sora-2-2025-10-06", prompt="a lighthouse", seed=0, size="720x1280", seconds=4)


def signed(content: bytes, identity, *, facts=FACTS, content_type="video/mp4") -> bytes:
    output = io.BytesIO()
    sign(source=io.BytesIO(content), dest=output, content_type=content_type, title="t", facts=facts, identity=identity)
    return output.getvalue()


def test_the_development_signer_is_an_ec_p256_end_entity_for_c2pa_claims(tmp_path):
    create_development_identity(tmp_path)
    chain = x509.load_pem_x509_certificates((tmp_path / "claim-signer-chain.pem").read_bytes())
    signer, ca = chain
    assert signer.public_key().curve.name == "secp256r1"
    assert signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert signer.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    usages = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in usages and C2PA_CLAIM_SIGNING in usages
    assert signer.issuer == ca.subject and ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert oct((tmp_path / "claim-signer.key").stat().st_mode & 0o777) == "0o600"
    assert not (tmp_path / "ca.key").exists()


def test_a_signed_clip_and_thumbnail_carry_the_created_action_and_our_facts(signing_identity):
    for content, content_type in ((clip().video, "video/mp4"), (clip().thumbnail, "image/jpeg")):
        report = read_manifest(
            io.BytesIO(signed(content, signing_identity, content_type=content_type)),
            content_type,
            trust_anchors=trust_anchors(),
        )
        assert report.state == ManifestState.TRUSTED
        assert report.digital_source_types == [TRAINED_ALGORITHMIC_MEDIA] and report.facts == FACTS


def test_a_manifest_the_provider_put_in_the_file_is_kept_as_an_ingredient(signing_identity):
    from_provider = signed(clip().video, signing_identity, facts={"by": "the provider"})
    ours = read_manifest(
        io.BytesIO(signed(from_provider, signing_identity)), "video/mp4", trust_anchors=trust_anchors()
    )
    assert ours.state == ManifestState.TRUSTED and ours.facts == FACTS
    assert [(item["relationship"], bool(item["manifest"])) for item in ours.ingredients] == [("componentOf", True)]


def test_a_file_signed_by_someone_else_is_valid_but_not_trusted(tmp_path, signing_identity):
    create_development_identity(tmp_path)
    stranger = SigningIdentity(
        chain_pem=(tmp_path / "claim-signer-chain.pem").read_bytes(),
        key_pem=(tmp_path / "claim-signer.key").read_bytes(),
    )
    report = read_manifest(io.BytesIO(signed(clip().video, stranger)), "video/mp4", trust_anchors=trust_anchors())
    assert report.state == ManifestState.VALID
