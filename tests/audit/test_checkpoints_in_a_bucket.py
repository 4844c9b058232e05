"""Checkpoints in an S3 bucket with object lock, where no one, us included, can change or delete them.

S3 is outside our system: moto stands in for it behind boto3.
"""

import io

import boto3
import pytest
from botocore.exceptions import ClientError
from django.core.management import call_command
from moto import mock_aws

from governance.settings import _s3_storage

pytestmark = pytest.mark.django_db

BUCKET = "governance-audit-checkpoints"


@pytest.fixture
def locked_bucket(monkeypatch, settings):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AUDIT_CHECKPOINT_S3_BUCKET", BUCKET)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(
            Bucket=BUCKET,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 3650}},
            },
        )
        storage = _s3_storage("AUDIT_CHECKPOINT")
        storage["OPTIONS"]["file_overwrite"] = False
        settings.STORAGES = {**settings.STORAGES, "audit_checkpoints": storage}
        yield s3


def test_checkpoints_go_to_the_bucket_and_verification_reads_them_there(locked_bucket):
    call_command("seed_demo")
    call_command("audit_checkpoint", stdout=io.StringIO())

    [stored] = locked_bucket.list_objects_v2(Bucket=BUCKET)["Contents"]
    assert stored["Key"].startswith("audit_checkpoint/")
    out = io.StringIO()
    call_command("verify_audit", "--strict", stdout=out)
    assert "agrees with 1 signed checkpoints" in out.getvalue()


def test_a_locked_checkpoint_cannot_be_deleted(locked_bucket):
    call_command("seed_demo")
    call_command("audit_checkpoint", stdout=io.StringIO())
    [version] = locked_bucket.list_object_versions(Bucket=BUCKET)["Versions"]

    with pytest.raises(ClientError, match="AccessDenied"):
        locked_bucket.delete_object(Bucket=BUCKET, Key=version["Key"], VersionId=version["VersionId"])
