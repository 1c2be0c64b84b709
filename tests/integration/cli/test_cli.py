"""The `rag` CLI as a user runs it: a real process, real files, exit codes and summaries."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from tests.conftest import BIN, make_pdf


def rag(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return subprocess.run([str(BIN / "rag"), *args], capture_output=True, text=True, env=env, timeout=600)


def test_ingest_list_and_delete_from_the_command_line(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "guide.pdf").write_bytes(make_pdf(["Page one about kayaks.", "Page two about paddles."]))
    (docs / "notes.md").write_text("# Notes\nKayaks float.")
    (docs / "sub" / "deep.txt").write_text("Deep file about canoes.")
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7 not really")
    data = tmp_path / "data"

    first = rag(["ingest", str(docs), "--collection", "boats", "--recursive"], data)
    assert first.returncode == 1, first.stderr  # one file failed
    assert "3 ingested" in first.stdout and "1 failed" in first.stdout
    assert "broken.pdf" in first.stdout and "PDF" in first.stdout

    again = rag(["ingest", str(docs / "guide.pdf"), str(docs / "notes.md"), "-c", "boats"], data)
    assert again.returncode == 0 and "2 unchanged" in again.stdout

    listed = json.loads(rag(["docs", "list", "--collection", "boats", "--json"], data).stdout)
    assert {d["document_id"] for d in listed} == {"guide.pdf", "notes.md", "sub/deep.txt"}
    assert next(d for d in listed if d["document_id"] == "guide.pdf")["pages"] == 2

    assert rag(["docs", "delete", "sub/deep.txt", "--collection", "boats"], data).returncode == 0
    assert rag(["docs", "delete", "nope", "--collection", "boats"], data).returncode == 1
    collections = json.loads(rag(["collections", "list", "--json"], data).stdout)
    assert collections == [
        {"name": "boats", "description": "", "created_at": collections[0]["created_at"], "documents": 2,
         "chunks": collections[0]["chunks"]}
    ]  # fmt: skip
    assert rag(["collections", "delete", "boats"], data).returncode == 0
    assert json.loads(rag(["collections", "list", "--json"], data).stdout) == []


def test_missing_path_exits_with_status_2(tmp_path: Path) -> None:
    result = rag(["ingest", str(tmp_path / "nope"), "-c", "x1x"], tmp_path / "data")
    assert result.returncode == 2 and "no such file" in result.stderr


def test_ask_and_chat_stream_the_answer_then_list_sources(tmp_path: Path) -> None:
    from rag.config import Settings
    from tests.conftest import ingest_knowledge
    from tests.fakes import fake_openai_server

    data = tmp_path / "data"
    ingest_knowledge(Settings(_env_file=None, data_dir=data), "kb1")  # type: ignore[call-arg]
    with fake_openai_server(reply="Full-time employees receive 25 days of paid annual leave [1].") as fake:
        env = {**os.environ, "RAG_DATA_DIR": str(data), "RAG_CHAT_BASE_URL": fake.base_url, "COLUMNS": "200"}
        asked = subprocess.run(
            [str(BIN / "rag"), "ask", "How many days of annual leave?", "-c", "kb1"],
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        chatted = subprocess.run(
            [str(BIN / "rag"), "chat", "-c", "kb1"], input="How many days of annual leave?\nAnd sick leave?\n\n",
            capture_output=True, text=True, env=env, timeout=300,
        )  # fmt: skip
        missing = subprocess.run(
            [str(BIN / "rag"), "ask", "x", "-c", "nope1"], capture_output=True, text=True, env=env, timeout=300
        )
    assert asked.returncode == 0, asked.stderr
    assert "Full-time employees receive 25 days of paid annual leave [1]." in asked.stdout
    assert "[1] leave.txt" in asked.stdout
    assert chatted.returncode == 0 and chatted.stdout.count("receive 25 days of paid annual leave [1].") == 2
    second_request = fake.requests[-1].json["messages"]
    assert [m["role"] for m in second_request] == ["system", "user", "assistant", "user"]  # the history went along
    assert missing.returncode == 1 and "not found" in missing.stderr


def test_ingest_does_not_follow_symlinks_out_of_the_folder_unless_asked(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "private").mkdir(parents=True)
    (outside / "passwd.txt").write_text("root:x:0:0:an account file from outside the folder")
    (outside / "private" / "keys.md").write_text("# Keys\nA private note from outside the folder.")
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "readme.txt").write_text("Inside the folder: kayaks float.")
    (docs / "latest.txt").symlink_to(docs / "readme.txt")  # stays inside the folder: taken
    (docs / "passwd.txt").symlink_to(outside / "passwd.txt")
    (docs / "private").symlink_to(outside / "private", target_is_directory=True)
    (docs / "gone.txt").symlink_to(tmp_path / "nowhere.txt")  # broken: no file to take
    data = tmp_path / "data"

    first = rag(["ingest", str(docs), "--collection", "links", "--recursive"], data)
    assert first.returncode == 0, first.stderr
    assert "2 ingested" in first.stdout and "2 skipped" in first.stdout
    assert "passwd.txt: skipped, symlink to a file outside the folder" in first.stdout
    assert "private: skipped, symlink to a folder outside it" in first.stdout
    assert "--follow-symlinks" in first.stdout
    listed = json.loads(rag(["docs", "list", "--collection", "links", "--json"], data).stdout)
    assert {d["document_id"] for d in listed} == {"readme.txt", "latest.txt"}

    followed = rag(["ingest", str(docs), "-c", "links", "-r", "--follow-symlinks", "--json"], data)
    assert followed.returncode == 0, followed.stderr
    statuses = {r["document_id"]: r["status"] for r in json.loads(followed.stdout)}
    assert statuses == {"latest.txt": "unchanged", "passwd.txt": "ingested", "private/keys.md": "ingested",
                        "readme.txt": "unchanged"}  # fmt: skip
