"""The answerability model as operators see it: the shipped fit, fits they load, and names the gate knows."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answering.answerability import FEATURES, SHIPPED_MODEL, AnswerabilityModel, document_names
from rag.errors import InvalidInput
from rag.types import Chunk


def test_the_shipped_fit_uses_every_feature() -> None:
    assert set(SHIPPED_MODEL.weights) == set(FEATURES)
    assert 0 <= SHIPPED_MODEL.min_relevance < 1 and SHIPPED_MODEL.fitted_on


def test_a_named_thing_the_collection_never_mentions_lowers_the_probability() -> None:
    features = dict.fromkeys(FEATURES, 0.5) | {"unknown_term": 0.0}
    assert SHIPPED_MODEL.probability(features | {"unknown_term": 1.0}) < SHIPPED_MODEL.probability(features)


def test_a_fit_written_by_the_script_loads_back(tmp_path: Path) -> None:
    model = AnswerabilityModel(dict.fromkeys(FEATURES, 0.5), -1.0, 0.4, 0.3, "mine")
    path = tmp_path / "fit.json"
    path.write_text(model.to_json())
    assert AnswerabilityModel.load(path) == model


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "cannot read"), ('{"weights": {"shoe_size": 1}, "bias": 0}', "unknown feature"), ("{}", "cannot")],
)
def test_a_broken_fit_file_is_refused_with_its_name(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "fit.json"
    path.write_text(content)
    with pytest.raises(InvalidInput, match=message):
        AnswerabilityModel.load(path)


def test_document_names_and_titles_count_as_mentioned() -> None:
    chunks = [
        Chunk("c1", "policies/security_policy.pdf", "s", "Acme Security Policy\nLock your screen.",
              {"filename": "security_policy.pdf"}),
        Chunk("c2", "onboarding-guide.md", "s", "\n# Welcome to Globex\nStart here.",
              {"filename": "onboarding-guide.md"}),
    ]  # fmt: skip
    names = document_names(chunks)
    assert {"security_policy", "security_policy.pdf", "security", "policy", "acme"} <= names
    assert {"onboarding-guide", "onboarding", "guide", "globex"} <= names
