"""Stand-ins for third parties, for local runs and tests: not part of the platform.

payment_provider/  a payment provider's refund API (idempotency keys, injectable faults)
smtp_sink.py       an SMTP server that keeps every mail and lists them over HTTP
"""
