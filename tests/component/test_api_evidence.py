"""Evidence upload and download: type by content, stored by sha256, parties only."""

import hashlib

from tests.component.test_api_support import *  # noqa: F403 (fixtures)
from tests.component.test_api_support import (
    BUYER, OPERATOR, OTHER_BUYER, OTHER_SELLER, PDF, PNG, SELLER, SERVICE,
)

GIF = b"GIF89a" + b"\x01" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x02" * 32


def problem(response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


def test_a_party_uploads_a_photo_and_gets_its_metadata_and_location(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.upload(who=BUYER, description="the crack")
    evidence = api.ok(response, 201)["evidence"]
    assert (evidence["content_type"], evidence["size"], evidence["description"], evidence["added_by"]) == (
        "image/png", len(PNG), "the crack", "buyer")
    assert evidence["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert response.headers["location"] == evidence["download_url"]


def test_the_type_is_read_from_the_content_not_the_declared_type(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/evidence", files={"file": ("scan.png", PDF, "image/png")})
    assert api.ok(response, 201)["evidence"]["content_type"] == "application/pdf"


def test_gif_and_jpeg_are_accepted(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    kinds = [api.ok(api.upload(who=BUYER, content=content), 201)["evidence"]["content_type"]
             for content in (GIF, JPEG)]
    assert kinds == ["image/gif", "image/jpeg"]


def test_a_file_of_another_type_is_rejected_whatever_its_name(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.upload(who=BUYER, content=b"MZ\x90\x00 not a picture", name="photo.png")
    assert problem(response) == (422, "EVIDENCE_REJECTED")
    assert api.view()["evidence"] == []


def test_an_empty_file_is_rejected(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    assert problem(api.upload(who=BUYER, content=b"")) == (422, "EVIDENCE_REJECTED")


def test_a_file_over_ten_megabytes_is_rejected(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    too_big = PNG + b"\x00" * (10 * 1024 * 1024 + 1 - len(PNG))
    assert problem(api.upload(who=BUYER, content=too_big)) == (422, "EVIDENCE_REJECTED")


def test_a_file_of_exactly_ten_megabytes_is_accepted(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    just_fits = PNG + b"\x00" * (10 * 1024 * 1024 - len(PNG))
    assert api.ok(api.upload(who=BUYER, content=just_fits), 201)["evidence"]["size"] == 10 * 1024 * 1024


def test_an_upload_without_a_file_is_a_validation_problem(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    response = api.post("/evidence", data={"description": "nothing"}, files={"other": ("a", b"x")})
    assert problem(response) == (422, "VALIDATION_FAILED")


def test_unknown_form_fields_are_a_validation_problem(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    assert problem(api.upload(who=BUYER, added_by="seller")) == (422, "VALIDATION_FAILED")


def test_files_are_stored_by_their_sha256_and_never_by_their_name(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.upload(who=BUYER, name="../../etc/passwd"), 201)
    digest = hashlib.sha256(PNG).hexdigest()
    stored = [p for p in (api.folder / "evidence").rglob("*") if p.is_file()]
    assert stored == [api.folder / "evidence" / digest[:2] / digest[2:4] / digest]


def test_the_uploaded_name_is_kept_without_its_directories(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    evidence = api.ok(api.upload(who=BUYER, name="..\\..\\x/../photo 1.png"), 201)["evidence"]
    assert evidence["filename"] == "photo 1.png"


def test_the_same_file_uploaded_twice_is_stored_once(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.upload(who=BUYER), 201)
    api.ok(api.upload(who=SELLER), 201)
    assert len(api.view()["evidence"]) == 2
    assert len([p for p in (api.folder / "evidence").rglob("*") if p.is_file()]) == 1


def test_a_party_downloads_the_evidence_as_it_was_uploaded(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    url = api.ok(api.upload(who=BUYER), 201)["evidence"]["download_url"]
    response = api.get(url, who=SELLER)
    assert (response.status_code, response.content) == (200, PNG)
    assert response.headers["content-type"] == "image/png"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("attachment")


def test_operators_and_services_download_evidence(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    url = api.ok(api.upload(who=BUYER), 201)["evidence"]["download_url"]
    assert [api.get(url, who=who).status_code for who in (OPERATOR, SERVICE)] == [200, 200]


def test_parties_of_other_orders_cannot_download_evidence(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    url = api.ok(api.upload(who=BUYER), 201)["evidence"]["download_url"]
    statuses = {problem(api.get(url, who=who)) for who in (OTHER_BUYER, OTHER_SELLER)}
    assert statuses == {(404, "DISPUTE_NOT_FOUND")}


def test_unknown_evidence_is_not_found(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    assert problem(api.get("/evidence/E-404", who=BUYER)) == (404, "NOT_FOUND")


def test_evidence_cannot_be_added_to_a_withdrawn_dispute(api_with_dispute_awaiting_seller):
    api = api_with_dispute_awaiting_seller
    api.ok(api.post("/withdraw"))
    assert problem(api.upload(who=BUYER)) == (409, "INVALID_TRANSITION")
