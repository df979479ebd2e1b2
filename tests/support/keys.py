"""The dispute service's keys for processes run outside local mode, as production runs them
(the development defaults are refused there)."""

DISPUTE_KEYS = {"DISPUTE_ID_KEY": "test-dispute-id-key-of-at-least-32-bytes",
                "DISPUTE_AUDIT_KEY": "test-audit-key-of-at-least-thirty-two-bytes"}
