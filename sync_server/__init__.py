"""The sync server: global models for devices, durable federated updates, the demo."""

from sync_server.app import create_app
from sync_server.config import Settings

__all__ = ["Settings", "create_app"]
