"""Named domain errors. Each carries its public `code` (DOMAIN.md); the API maps codes to HTTP."""


class DomainError(Exception):
    code = "INVALID_TRANSITION"

    def __init__(self, message: str, *, code: str | None = None, **details: object):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details = details
