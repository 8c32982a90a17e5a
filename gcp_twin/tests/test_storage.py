"""The twin's Cloud Storage, through Google's own Python client: IAM is
enforced per method as Google's permission table says, denials have
Google's status codes and shapes, and the rest is fake-gcs-server's."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import google.cloud.storage as storage
import pytest
from google.api_core import exceptions
from google.oauth2.credentials import Credentials

from gcp_twin import token_for

PROJECT = "twin-project"
BUCKET = "twin-bucket"
ADMIN = "user:admin@example.com"
READER = "serviceAccount:reader@twin-project.iam.gserviceaccount.com"
WRITER = "serviceAccount:writer@twin-project.iam.gserviceaccount.com"


def client(twin, member: str) -> storage.Client:
    return storage.Client(project=PROJECT, credentials=Credentials(token_for(member)), client_options={"api_endpoint": twin.url})


@pytest.fixture
def twin(storage_twin):
    storage_twin.create_bucket(PROJECT, BUCKET)
    storage_twin.iam.add_binding(f"projects/{PROJECT}", "roles/owner", ADMIN)
    storage_twin.iam.add_binding(f"projects/_/buckets/{BUCKET}", "roles/storage.objectViewer", READER)
    storage_twin.iam.add_binding(f"projects/_/buckets/{BUCKET}", "roles/storage.objectCreator", WRITER)
    return storage_twin


def test_project_owner_inherits_everything_on_the_bucket(twin):
    bucket = client(twin, ADMIN).bucket(BUCKET)
    bucket.blob("a.txt").upload_from_string("one")
    bucket.blob("a.txt").upload_from_string("two")  # replacing needs delete too: the owner has it
    assert bucket.blob("a.txt").download_as_bytes() == b"two"
    bucket.blob("a.txt").delete()


def test_reader_reads_and_lists_but_cannot_write(twin):
    client(twin, ADMIN).bucket(BUCKET).blob("state").upload_from_string("{}")
    bucket = client(twin, READER).bucket(BUCKET)
    assert [blob.name for blob in client(twin, READER).list_blobs(BUCKET)] == ["state"]
    assert bucket.blob("state").download_as_bytes() == b"{}"
    with pytest.raises(exceptions.Forbidden) as denied:
        bucket.blob("lock").upload_from_string("x")
    assert denied.value.code == 403
    assert (
        "reader@twin-project.iam.gserviceaccount.com does not have storage.objects.create access to the Google Cloud Storage object. "
        "Permission 'storage.objects.create' denied on resource (or it may not exist)."
    ) in denied.value.message
    with pytest.raises(exceptions.Forbidden):
        bucket.blob("state").delete()


def test_creator_creates_but_replacing_needs_delete(twin):
    bucket = client(twin, WRITER).bucket(BUCKET)
    bucket.blob("new").upload_from_string("1")
    with pytest.raises(exceptions.Forbidden) as denied:
        bucket.blob("new").upload_from_string("2")
    assert "storage.objects.delete" in denied.value.message
    with pytest.raises(exceptions.Forbidden):  # objectCreator cannot read back
        bucket.blob("new").download_as_bytes()


def test_only_if_absent_never_replaces(twin):
    bucket = client(twin, ADMIN).bucket(BUCKET)
    bucket.blob("once").upload_from_string("first", if_generation_match=0)
    with pytest.raises(exceptions.PreconditionFailed):
        bucket.blob("once").upload_from_string("second", if_generation_match=0)
    assert bucket.blob("once").download_as_bytes() == b"first"


def test_anonymous_caller_gets_401(twin):
    request = urllib.request.Request(f"{twin.url}/storage/v1/b/{BUCKET}/o")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    error = json.loads(refused.value.read())["error"]
    assert error["code"] == 401 and error["message"].startswith("Anonymous caller does not have storage.objects.list access")


def test_bucket_policy_and_test_permissions(twin):
    admin_bucket = client(twin, ADMIN).bucket(BUCKET)
    policy = admin_bucket.get_iam_policy()
    assert set(policy["roles/storage.objectViewer"]) == {READER}
    policy["roles/storage.objectAdmin"] = {READER}
    admin_bucket.set_iam_policy(policy)
    reader_bucket = client(twin, READER).bucket(BUCKET)
    asked = ["storage.objects.create", "storage.buckets.delete", "storage.objects.get"]
    assert sorted(reader_bucket.test_iam_permissions(asked)) == ["storage.objects.create", "storage.objects.get"]
    with pytest.raises(exceptions.Forbidden):
        reader_bucket.get_iam_policy()


def test_an_unknown_method_is_404(twin):
    request = urllib.request.Request(f"{twin.url}/storage/v9/b/{BUCKET}", headers={"Authorization": f"Bearer {token_for(ADMIN)}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 404


def test_a_bucket_keeps_the_location_it_was_created_in(twin):
    admin = client(twin, ADMIN)
    admin.create_bucket("twin-regional", location="us-east4")
    admin.create_bucket("twin-default")
    assert admin.get_bucket("twin-regional").location == "US-EAST4"
    assert admin.get_bucket("twin-default").location == "US"
    assert {bucket.name: bucket.location for bucket in admin.list_buckets()}["twin-regional"] == "US-EAST4"
