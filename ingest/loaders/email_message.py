"""E-mail .eml via the standard library: the headers people search by (From, To, Cc, Date, Subject), the body
(plain text, or the HTML part's visible text), then a line naming each attachment.

Each readable attachment is read by the loader of its own type and returned beside the message (in
`LoadedDocument.attachments`), so the pipeline stores it as a document of its own linked to the message and a
hit in it cites the attachment, not the message. An attached message is read the same way, its own attachments
returned with it (named under it: `inner.eml/photo.pdf`). One that cannot be read is named with the reason.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

from ingest.loaders.base import Attachment, LoadedDocument, Page
from ingest.loaders.html import load_html
from ingest.names import display_filename
from rag.errors import InvalidInput, RagError, UnsupportedType

HEADERS = ("From", "To", "Cc", "Date", "Subject")
MAX_ATTACHMENTS = 50  # per message, nested messages' attachments included
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
    attachments: list[Attachment] = []
    taken: set[str] = set()
    for index, part in enumerate(message.iter_attachments()):
        if index == MAX_ATTACHMENTS or len(attachments) >= MAX_ATTACHMENTS:
            lines.append(f"(further attachments not read: more than {MAX_ATTACHMENTS})")
            break
        name = _unique(_name(part, index), taken)
        line, found = _attachment(part, name, load_attachment, depth)
        lines.append(line)
        attachments += found[: MAX_ATTACHMENTS - len(attachments)]
    subject = str(message["Subject"]).strip() if message["Subject"] else None
    page = Page("\n\n".join(line for line in lines if line.strip()))
    return LoadedDocument(pages=[page], title=subject or None, attachments=attachments)


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


def _name(part: EmailMessage, index: int) -> str:
    """The attachment's file name made harmless (it becomes part of a document id); an attached message ends
    in .eml, so it is read as one."""
    name = display_filename(part.get_filename() or f"attachment-{index + 1}")
    if part.get_content_type() == "message/rfc822" and Path(name).suffix.lower() != ".eml":
        name += ".eml"
    return name


def _unique(name: str, taken: set[str]) -> str:
    """Two attachments of one name would share a document id: the second becomes `name (2).ext`."""
    candidate, number = name, 1
    while candidate.lower() in taken:
        number += 1
        candidate = f"{Path(name).stem} ({number}){Path(name).suffix}"
    taken.add(candidate.lower())
    return candidate


def _attachment(
    part: EmailMessage, name: str, load_attachment: LoadAttachment, depth: int
) -> tuple[str, list[Attachment]]:
    """The line naming the attachment (with why it was not read, if so), and what was read from it."""
    heading = f"Attachment: {name}"
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload()
        inner = inner[0] if isinstance(inner, list) and inner else inner
        data = inner.as_bytes() if isinstance(inner, EmailMessage) else None
    else:
        data = part.get_payload(decode=True)
    if not isinstance(data, bytes) or not data:
        return f"{heading} (not read: no content)", []
    suffix = Path(name).suffix.lower()
    if suffix == ".eml" and depth >= MAX_DEPTH:
        return f"{heading} (not read: a message nested too deep)", []
    try:
        if suffix == ".eml":
            document = load_eml(data, load_attachment, depth + 1)
        else:
            document = load_attachment(name, data, len(data))
    except UnsupportedType:
        return f"{heading} (not read: {suffix or 'no'} file type)", []
    except RagError as exc:
        return f"{heading} (not read: {exc.message})", []
    inner_files = [Attachment(f"{name}/{a.name}", a.data, a.document) for a in document.attachments]
    return heading, [Attachment(name, data, replace(document, attachments=[])), *inner_files]
