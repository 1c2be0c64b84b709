"""Office files that are no zip: a password-protected .docx/.xlsx/.pptx, or an old binary .doc/.xls/.ppt renamed.

Office encrypts a document by wrapping it in an OLE compound file (the format of the old binary files) with
an `EncryptedPackage` stream, so the zip parsers would only say "not a zip file". Told apart here by the
compound file's signature and that stream's name in its directory (UTF-16), without reading further.
"""

from __future__ import annotations

from rag.errors import InvalidInput

OLE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
_OLD_FORMATS = {".docx": ".doc", ".xlsx": ".xls", ".pptx": ".ppt"}


def check_not_locked(data: bytes, kind: str) -> None:
    """Refuse, with what to do, an Office file that is encrypted or in the old binary format."""
    if not data.startswith(OLE_SIGNATURE):
        return
    if _ENCRYPTED_STREAM in data:
        raise InvalidInput(f"password-protected {kind}: remove the password (save a copy without one) and upload that")
    old = _OLD_FORMATS.get(kind, "binary Office")
    raise InvalidInput(f"an old {old} file (binary Office format), not {kind}: save it as {kind} and upload that")
