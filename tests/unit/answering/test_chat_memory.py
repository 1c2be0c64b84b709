"""Chat memory: follow-ups become standalone retrieval queries; history is trimmed by tokens."""

from __future__ import annotations

import pytest

from rag.answering.chat import enumerated_items, standalone_query, trim_history
from rag.backends.base import Message
from rag.errors import InvalidInput

CHEF = (
    'Bonjour! I\'m happy to share three techniques. First, we have the classic "Sous Vide" method. '
    'Next, we have the ancient art of "Sous le Sable". And finally, the more modern "Hot Smoking."'
)


def words(text: str) -> int:
    return len(text.split())


def test_items_are_read_from_lists_quotes_or_sequence_words() -> None:
    assert enumerated_items("Options:\n1. Rice\n2. Pasta\n3. Bread") == ["Rice", "Pasta", "Bread"]
    assert enumerated_items("- alpha\n- beta") == ["alpha", "beta"]
    assert enumerated_items(CHEF) == ["Sous Vide", "Sous le Sable", "Hot Smoking"]
    assert enumerated_items("First, boil water. Then add the pasta. Finally, drain it.")[1] == "Then add the pasta"


def test_an_ordinal_follow_up_names_the_item_it_means() -> None:
    conversation = [
        Message("system", "Respond like a chef."),
        Message("user", "Can you name two techniques to cook lamb?"),
        Message("assistant", CHEF),
        Message("user", "Tell me more about the second method."),
    ]
    assert standalone_query(conversation).startswith("Sous le Sable")
    last = [*conversation[:-1], Message("user", "And the last one?")]
    assert standalone_query(last).startswith("Hot Smoking")


def test_a_pronoun_follow_up_carries_the_previous_question() -> None:
    conversation = [Message("user", "What is the RX-200 battery life?"), Message("assistant", "90 minutes [1]."),
                    Message("user", "How do I replace it?")]  # fmt: skip
    assert standalone_query(conversation) == "What is the RX-200 battery life? How do I replace it?"
    fresh = [*conversation[:-1], Message("user", "Which offices does Northwind Robotics have in Europe?")]
    assert standalone_query(fresh) == "Which offices does Northwind Robotics have in Europe?"


def test_history_is_trimmed_by_tokens_oldest_first_keeping_system_and_question() -> None:
    history = [Message("system", "rules " * 10)]
    for i in range(10):
        history += [Message("user", f"question {i} " * 20), Message("assistant", f"answer {i} " * 20)]
    history.append(Message("user", "final question"))
    kept = trim_history(history, budget=600, count_tokens=words)
    assert kept[0] == history[0] and kept[-1] == history[-1]
    assert sum(words(m.content) + 32 for m in kept) <= 600
    assert kept[1:-1] == history[-1 - (len(kept) - 2) : -1]  # the newest turns survive
    with pytest.raises(InvalidInput):
        trim_history(history, budget=20, count_tokens=words)


def test_no_user_message_is_refused() -> None:
    with pytest.raises(InvalidInput, match="user message"):
        standalone_query([Message("system", "hi")])
