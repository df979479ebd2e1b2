"""The dispute service's use cases (named commands and their one runner) and the deadline
worker: no HTTP or Kafka types."""
