"""Reads the message templates once: `templates/<EventType>.<role>.txt`, first line the
subject, the rest the body (`string.Template`: `$respond_by`, `$offer`, ...)."""

from __future__ import annotations

from pathlib import Path

from services.notification.notices import MessageTemplate

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


def load_templates(folder: Path = TEMPLATE_DIR) -> dict[str, MessageTemplate]:
    """`{"OfferMade.buyer": MessageTemplate(subject, body), ...}`"""
    templates = {}
    for path in sorted(folder.glob("*.txt")):
        subject, _, body = path.read_text(encoding="utf-8").partition("\n")
        templates[path.stem] = MessageTemplate(subject=subject.strip(), body=body)
    return templates
