"""The claim-signing identity: a private key and its certificate chain, read from files or environment variables.

Never from the database. `create_development_identity` makes a development CA and an EC P-256
claim-signing certificate with the extensions C2PA validators expect (digital signature key
usage, the email-protection and C2PA claim-signing extended key usages, not a CA).
"""

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier
from django.conf import settings

C2PA_CLAIM_SIGNING = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
CA_FILE, CHAIN_FILE, KEY_FILE = "ca.pem", "claim-signer-chain.pem", "claim-signer.key"


@dataclass(frozen=True)
class SigningIdentity:
    chain_pem: bytes  # the claim-signing certificate first, then its issuers
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.chain_pem)[0]

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the claim-signing certificate (DER), as `openssl x509 -fingerprint -sha256` shows it."""
        return certificate_fingerprint(self.certificate)


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def _pem_from(env_var: str, path: Path) -> bytes | None:
    if os.environ.get(env_var):
        return os.environ[env_var].encode()
    return path.read_bytes() if path.is_file() else None


def load_identity() -> SigningIdentity | None:
    """The configured identity, or None when none is configured (files absent, variables unset)."""
    chain = _pem_from("CONTENT_SIGNING_CERT_PEM", Path(settings.CONTENT_SIGNING_CERT_FILE))
    key = _pem_from("CONTENT_SIGNING_KEY_PEM", Path(settings.CONTENT_SIGNING_KEY_FILE))
    if not chain or not key:
        return None
    return SigningIdentity(chain_pem=chain, key_pem=key)


def trust_anchors() -> str:
    """PEM certificates a verifier trusts: our CA by default, or the organisation's list."""
    pem = _pem_from("CONTENT_TRUST_ANCHORS_PEM", Path(settings.CONTENT_TRUST_ANCHORS_FILE))
    return pem.decode() if pem else ""


def _name(common_name: str, organisation: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )


def _key_usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signer,
        crl_sign=not signer,
        encipher_only=False,
        decipher_only=False,
    )


def _certificate(subject, issuer, public_key, issuer_key, *, days: int, signer: bool, now: dt.datetime):
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=not signer, path_length=None if signer else 0), critical=True)
        .add_extension(_key_usage(signer=signer), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if signer:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_CLAIM_SIGNING]), critical=False
        ).add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def create_development_identity(directory: Path, *, organisation: str = "Snapshot Governance (development)") -> Path:
    """Write a development CA (certificate only; its key is discarded) and a claim-signing key and chain."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key, signer_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Development content credentials CA", organisation)
    ca = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, days=3650, signer=False, now=now)
    signer = _certificate(
        _name("Claim signer", organisation), ca_name, signer_key.public_key(), ca_key, days=825, signer=True, now=now
    )
    pem = serialization.Encoding.PEM
    key_path = directory / KEY_FILE
    key_path.touch(mode=0o600)
    key_path.write_bytes(signer_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (directory / CHAIN_FILE).write_bytes(signer.public_bytes(pem) + ca.public_bytes(pem))
    (directory / CA_FILE).write_bytes(ca.public_bytes(pem))
    return directory
