"""Errors raised when a payload is refused; the API maps them to HTTP answers."""

from __future__ import annotations


class PayloadError(ValueError):
    """A payload refused because of one field: `status` 422 (wrong shape/value) unless told."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status


class InvalidJson(PayloadError):
    """The body is not JSON at all (HTTP 400, field `body`)."""

    def __init__(self, message: str) -> None:
        super().__init__("body", message, status=400)
