"""schemathesis hooks for test_schema_fuzz.py: the rules of this API that JSON Schema has no words for.

Each is stated in its operation's description. The hooks make every generated body follow them and touch
nothing a schema states, so a body the schema refuses stays refused, and "valid data is accepted" is checked
on everything else:
- a chat's last message comes from the user (JSON Schema cannot address an array's last item);
- an upload's files are documents its loaders read (which bytes make a readable PDF is no schema's business),
  with `document_id` given for none or every file (JSON Schema cannot relate two arrays' lengths);
- an import's body is an archive `rag export` wrote (the test exports one and names it in RAG_FUZZ_BUNDLE).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import schemathesis
from fpdf import FPDF
from schemathesis.transport.serialization import Binary


def _readable_pdf() -> bytes:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "Full-time employees get 25 days of annual leave.")
    return bytes(pdf.output())


PDF = _readable_pdf()  # its signature makes schemathesis name the part "files.pdf"
ROLES = ("system", "user", "assistant")


# Cases, not bodies: the coverage phase applies case hooks only.
@schemathesis.hook("map_case").apply_to(method="POST", path="/v1/chat/completions")
def last_message_from_the_user(context: Any, case: Any) -> Any:
    messages = case.body.get("messages") if isinstance(case.body, dict) else None
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        if messages[-1].get("role") in ROLES:  # another role is the schema's to refuse
            messages[-1]["role"] = "user"
    return case


@schemathesis.hook("map_case").apply_to(method="POST", path="/v1/collections/{name}/documents")
def readable_files(context: Any, case: Any) -> Any:
    files = case.body.get("files") if isinstance(case.body, dict) else None
    if not isinstance(files, list) or not files:
        return case
    case.body["files"] = [PDF if isinstance(f, (bytes, Binary)) else f for f in files]
    if "document_id" in case.body:
        ids = case.body["document_id"]
        ids = ids if isinstance(ids, list) and ids else [ids]
        case.body["document_id"] = [ids[i % len(ids)] for i in range(len(files))]
    return case


@schemathesis.hook("map_case").apply_to(method="POST", path="/v1/imports")
def a_real_bundle(context: Any, case: Any) -> Any:
    if isinstance(case.body, (bytes, Binary)) and os.environ.get("RAG_FUZZ_BUNDLE"):
        case.body = Path(os.environ["RAG_FUZZ_BUNDLE"]).read_bytes()
    return case
