"""The read side: tracked projections of the event store (dispute index, timeline) and their
rebuild."""
