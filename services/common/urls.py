"""URLs fit to log: a password in a URL (postgresql://app:secret@db/x) never reaches a log line."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
PASSWORD_PARAMETER = re.compile(r"((?:^|&)[^=&]*password=)[^&]*", re.IGNORECASE)


def masked_url(url: str | None) -> str | None:
    """The URL with its password, if it has one, replaced by ***; anything unparsable is
    masked whole rather than logged as it is."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    userinfo, at, host = parts.netloc.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    netloc = f"{user}:{MASK}@{host}" if at and colon else parts.netloc
    query = PASSWORD_PARAMETER.sub(rf"\g<1>{MASK}", parts.query)
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))
