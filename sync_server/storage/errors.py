"""The errors the stores raise, named in plain English."""

from __future__ import annotations


class UnknownSite(LookupError):
    """No site has that key."""


class AdminExists(ValueError):
    """An admin account with that name already exists."""


class NoSyncConsent(PermissionError):
    """The visitor's latest consent does not grant `sync`, so no profile may be stored."""


class TokenRefused(PermissionError):
    """No participation token for this visitor now: `code` says why, the message in words."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


class TokenSpent(LookupError):
    """An update's participation token was spent already."""


class TokenExpired(LookupError):
    """An update's participation token belongs to a round that has closed."""
