"""The sync server: global models for devices, durable federated updates, the demo (see ARCHITECTURE.md)."""
