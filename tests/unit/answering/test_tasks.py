"""Requests for a task ("summarize X", "list the steps to X", "compare A and B") told apart from fact questions,
and what they name resolved to a document."""

from __future__ import annotations

import pytest

from rag.answering.task_extracts import list_blocks, prose_sentences
from rag.answering.tasks import DocumentName, read_task, resolve_document
from rag.types import SearchHit


@pytest.mark.parametrize(
    ("request_text", "kind", "targets", "about"),
    [
        ("summarize the security policy", "summary", ("the security policy",), None),
        ("Summarise the employee handbook in 3 bullet points, please", "summary", ("the employee handbook",), None),
        ("Can you sum up the release notes?", "summary", ("the release notes",), None),
        ("tl;dr of the FAQ", "summary", ("the FAQ",), None),
        ("TL;DR: release_notes.md", "summary", ("release_notes.md",), None),
        ("Give me a brief overview of the RX-200 manual", "summary", ("the RX-200 manual",), None),
        ("give me a summary of the travel rules", "summary", ("the travel rules",), None),
        ("What’s in the security policy?", "summary", ("the security policy",), None),
        ("What does the security policy say?", "summary", ("the security policy",), None),
        ("summarize what the handbook says about travel", "summary", ("the handbook",), "travel"),
        (
            "What does security_policy.pdf say about Lock your screen yourself (Windows key?",
            "ask", ("security_policy.pdf",), "Lock your screen yourself (Windows key",
        ),
        ("According to the handbook, how much leave do I get?", "ask", ("the handbook",), "how much leave do I get"),
        ("list the steps to handle a security incident", "steps", ("handle a security incident",), None),
        ("What are the steps to report a lost laptop?", "steps", ("report a lost laptop",), None),
        ("How do I reset the robot, step by step?", "steps", ("reset the robot",), None),
        ("Walk me through pairing the robot", "steps", ("pairing the robot",), None),
        ("compare SEV1 and SEV2", "compare", ("SEV1", "SEV2"), None),
        ("What is the difference between sick leave and annual leave?", "compare",
         ("sick leave", "annual leave"), None),
        ("How does the standard warranty differ from the battery warranty?", "compare",
         ("the standard warranty", "the battery warranty"), None),
        ("Quiet mode vs Max mode", "compare", ("Quiet mode", "Max mode"), None),
    ],
)  # fmt: skip
def test_a_request_for_a_task_is_recognised_with_what_it_names(
    request_text: str, kind: str, targets: tuple[str, ...], about: str | None
) -> None:
    task = read_task(request_text)
    assert task is not None and (task.kind, task.targets, task.about) == (kind, targets, about)


@pytest.mark.parametrize(
    "question",
    [
        "What is the parking policy?",
        "How many days of leave do I get?",
        "What does PTO mean?",
        "What does error E09 mean?",
        "How do I reset the robot?",
        "Who owns the security policy?",
        "When was the company founded?",
        "What does the CISO do?",
        "How long is the warranty?",
        "What should I do if I lose my laptop?",
        "What is the difference?",
        "summarize it",  # a follow-up: chat carries the previous question along instead
        "Tell me more about that",
        "Which steps?",
    ],
)
def test_a_fact_question_is_not_a_task(question: str) -> None:
    assert read_task(question) is None


@pytest.mark.parametrize("question", ["What is in the box?", "What does the warranty cover?", "Describe the levels"])
def test_a_wording_that_may_ask_about_a_thing_is_a_task_only_for_a_document(question: str) -> None:
    task = read_task(question)
    assert task is not None and task.document_only
    assert resolve_document(task.targets[0], DOCUMENTS) is None  # so the normal answer path takes it


DOCUMENTS = [
    DocumentName("d1", "security_policy.pdf", "Northwind Robotics - Information Security Policy"),
    DocumentName("d2", "employee_handbook.pdf", "Northwind Robotics - Employee Handbook"),
    DocumentName("d3", "rx200_user_manual.pdf", "Northwind Robotics - RX-200 Robot Vacuum - User Manual"),
    DocumentName("d4", "release_notes.md", "RX-200 Firmware Release Notes"),
    DocumentName("d5", "travel_policy.pdf", "Travel and expenses"),
]


@pytest.mark.parametrize(
    ("target", "document_id"),
    [
        ("security_policy.pdf", "d1"),  # its file name
        ("security_policy", "d1"),
        ("the security policy", "d1"),  # the words of its name
        ("the Northwind information security policy document", "d1"),  # of its title; "document" says nothing
        ("the handbook", "d2"),
        ("the RX-200 manual", "d3"),  # "RX-200" and "rx200" split alike
        ("the user manual", "d3"),
        ("the firmware release notes", "d4"),
        ("the travel and expenses document", "d5"),
    ],
)
def test_a_document_is_found_by_its_file_name_or_title(target: str, document_id: str) -> None:
    found = resolve_document(target, DOCUMENTS)
    assert found is not None and found.document_id == document_id


@pytest.mark.parametrize("target", ["the policy", "the parking rules", "the document", "Northwind Robotics", "a.pdf"])
def test_a_name_that_fits_no_document_or_several_resolves_to_none(target: str) -> None:
    assert resolve_document(target, DOCUMENTS) is None


def test_the_document_names_the_only_document_of_a_collection() -> None:
    assert resolve_document("this document", DOCUMENTS[:1]) == DOCUMENTS[0]


PDF_LIST = """5. Incident response
A security incident is any event that threatens company information. Report it within 1 hour.
The Security team handles each incident in three steps:
- Step 1 - Report and triage: the on-call engineer confirms the incident and assigns a severity
level.
- Step 2 - Contain: limit the damage, for example by isolating a device.
- Step 3 - Review: hold a blameless review within 10 working days.
Severity levels: SEV1 requires a response within 15 minutes.
"""


def test_a_list_keeps_its_wrapped_lines_and_its_lead_line_and_ends_at_the_next_paragraph() -> None:
    [block] = list_blocks(PDF_LIST)
    assert block.lead is not None and block.lead.text == "The Security team handles each incident in three steps:"
    assert [item.text for item in block.items] == [
        "- Step 1 - Report and triage: the on-call engineer confirms the incident and assigns a severity level.",
        "- Step 2 - Contain: limit the damage, for example by isolating a device.",
        "- Step 3 - Review: hold a blameless review within 10 working days.",
    ]
    assert not block.reaches_end
    for item in block.items:  # each quote's range is where it stands in the text
        assert " ".join(PDF_LIST[item.start : item.end].split()) == item.text


def test_a_list_cut_by_a_page_footer_may_go_on_in_the_next_chunk() -> None:
    [block] = list_blocks("Do this:\n1. Open the app\n2. Tap Add Device\nNorthwind - Manual - Page 2 of 4\n")
    assert len(block.items) == 2 and block.reaches_end


def test_a_numbered_heading_above_bullets_is_no_list_item() -> None:
    [block] = list_blocks("4. Devices and networks\n- Laptops are encrypted.\n- Report a lost device within 1 hour.\n")
    assert [item.text for item in block.items] == ["- Laptops are encrypted.", "- Report a lost device within 1 hour."]


def test_summary_sentences_leave_headings_and_page_furniture_out() -> None:
    text = (
        "Northwind Robotics - Information Security Policy\nInformation Security Policy\n1. Purpose and scope\n"
        "This policy protects the information of Northwind Robotics and its customers.\n"
        "Email and chat\n--------------\nWe answer emails within 24 hours on business days."
    )
    quotes = prose_sentences([SearchHit("c1", "d1", "policy.pdf", 1, text, 1.0)])
    assert [q.text for q in quotes] == [
        "This policy protects the information of Northwind Robotics and its customers.",
        "We answer emails within 24 hours on business days.",
    ]
    assert all(q.opens_section for q in quotes)
