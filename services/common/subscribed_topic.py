"""The topic a faststream subscriber reads, never created by it.

Topics are made, with their partitions and settings, by the provisioning step
(`services/common/topics.py`, a principal allowed to create them) and by each service for its own
dead letters (`ensure_topics`, before its broker starts). faststream otherwise tries to create
every subscribed topic when the subscriber starts, under the service's principal, whose ACLs
refuse it: each start of `make run` logged "Failed to create topic ...:
TopicAuthorizationFailedError" per subscriber, a warning about nothing wrong."""

from faststream.kafka import Topic


def subscribed(name: str) -> Topic:
    return Topic(name, declare=False)
