"""The public language of the platform: messages on Kafka. The only code services share."""
