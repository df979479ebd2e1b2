"""Audit over the event store: replay and export, verify the keyed chain, signed checkpoints."""
