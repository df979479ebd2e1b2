"""The relay process: follows the event store and publishes it to Kafka (translation seam,
position, lock, wake-ups, lag, metrics)."""
