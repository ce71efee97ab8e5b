"""Domain errors. Each carries a Chinese message for the person who caused it; the web layer
maps them to HTTP statuses (see CONTRACT.md)."""

from __future__ import annotations


class CunwuError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class BadRequest(CunwuError):
    code, status = "bad_request", 400


class NotAuthenticated(CunwuError):
    code, status = "not_authenticated", 401


class Forbidden(CunwuError):
    code, status = "forbidden", 403


class NotFound(CunwuError):
    code, status = "not_found", 404


class Conflict(CunwuError):
    code, status = "conflict", 409


class Invalid(CunwuError):
    code, status = "invalid", 422


class DefinitionError(CunwuError):
    """A BPMN file or catalogue entry is broken; ``problems`` lists ``FILE:LINE: message``."""

    code, status = "definition_error", 422

    def __init__(self, problems: list[str]):
        super().__init__("；".join(problems))
        self.problems = problems


class TooManyRequests(CunwuError):
    """Too many requests from one source in a short time (e.g. objections from one address)."""

    code, status = "too_many_requests", 429
