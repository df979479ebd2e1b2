"""A URL fit to log keeps everything but its password."""

import pytest

from services.common.urls import masked_url


@pytest.mark.parametrize("url,logged", [
    ("postgresql://dispute:s3cr%40t@db:5432/dispute", "postgresql://dispute:***@db:5432/dispute"),
    ("postgresql://dispute:p@ss@db/dispute", "postgresql://dispute:***@db/dispute"),
    ("postgresql://:only-a-password@db/x", "postgresql://:***@db/x"),
    ("http://user:pw@[::1]:8080/path?a=1", "http://user:***@[::1]:8080/path?a=1"),
    ("postgresql://db/x?user=app&password=s3cret&sslmode=require",
     "postgresql://db/x?user=app&password=***&sslmode=require"),
    ("postgresql://db/x?sslpassword=s3cret", "postgresql://db/x?sslpassword=***"),
])
def test_the_password_of_a_url_is_masked(url, logged):
    assert masked_url(url) == logged


@pytest.mark.parametrize("url", ["sqlite:///var/dispute.sqlite", "postgresql://dispute@db:5432/dispute",
                                 "http://127.0.0.1:8003", "https://id.example/.well-known/jwks.json"])
def test_a_url_without_a_password_is_logged_as_it_is(url):
    assert masked_url(url) == url


def test_a_url_that_does_not_parse_is_masked_whole():
    assert masked_url("postgresql://app:s3cret@[::1/x") == "***"
