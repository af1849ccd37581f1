"""The WeChat API: :class:`Client` and its token central control."""

from __future__ import annotations

from .client import Client
from .tokens import Credential, CredentialStore

__all__ = ["Client", "Credential", "CredentialStore"]
