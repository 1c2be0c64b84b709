"""E-mail .eml via the standard library: the headers people search by (From, To, Cc, Date, Subject), the body
(plain text, or the HTML part's visible text), then each attachment's text under a line naming it.

Attachments are read by the loader of their own type and become part of the message's document, so a hit
in one cites the message it came with; one that cannot be read is named with the reason.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.html import load_html
from rag.errors import InvalidInput, RagError, UnsupportedType

HEADERS = ("From", "To", "Cc", "Date", "Subject")
MAX_ATTACHMENTS = 50
MAX_DEPTH = 3  # a message attached to a message attached to ...: no deeper
# Reads an attachment by its file name's type (the registry's `load_bytes`, handed in: it imports this module).
LoadAttachment = Callable[[str, bytes, int], LoadedDocument]


def load_eml(data: bytes, load_attachment: LoadAttachment, depth: int = 0) -> LoadedDocument:
    message = email.message_from_bytes(data, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not (message.keys() or message.get_payload()):
        raise InvalidInput("not an e-mail message (no headers, no body)")
    headers = [f"{name}: {' '.join(str(message[name]).split())}" for name in HEADERS if message[name]]
    lines = ["\n".join(headers)]
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        lines.append(_part_text(body))
    for index, part in enumerate(message.iter_attachments()):
        if index == MAX_ATTACHMENTS:
            lines.append(f"(further attachments not read: more than {MAX_ATTACHMENTS})")
            break
        lines.append(_attachment(part, index, load_attachment, depth))
    subject = str(message["Subject"]).strip() if message["Subject"] else None
    return LoadedDocument(pages=[Page("\n\n".join(line for line in lines if line.strip()))], title=subject or None)


def _part_text(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError, AssertionError):  # an unknown charset or a broken transfer encoding
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if isinstance(content, bytes):
        return ""
    if part.get_content_type() == "text/html":
        return load_html(content.encode()).pages[0].text
    return content.strip()


def _attachment(part: EmailMessage, index: int, load_attachment: LoadAttachment, depth: int) -> str:
    """'Attachment: name' and the attachment's text, or why it has none."""
    name = part.get_filename() or f"attachment-{index + 1}"
    heading = f"Attachment: {name}"
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        if isinstance(inner, EmailMessage) and depth < MAX_DEPTH:
            return f"{heading}\n{load_eml(inner.as_bytes(), load_attachment, depth + 1).pages[0].text}"
        return f"{heading} (not read: a message nested too deep)"
    suffix = Path(name).suffix.lower()
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return f"{heading} (not read: no content)"
    try:
        if suffix == ".eml":
            document = load_eml(data, load_attachment, depth + 1) if depth < MAX_DEPTH else None
        else:
            document = load_attachment(name, data, len(data))
    except UnsupportedType:
        return f"{heading} (not read: {suffix or 'no'} file type)"
    except RagError as exc:
        return f"{heading} (not read: {exc.message})"
    if document is None:
        return f"{heading} (not read: a message nested too deep)"
    return f"{heading}\n" + "\n\n".join(page.text for page in document.pages if page.text.strip())
