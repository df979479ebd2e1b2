"""What the dispute service talks to: the event store's metadata and hash chain, the order
book, the evidence files, the idempotency keys, Kafka consumer groups."""
