"""The `rag` CLI behaves the same in every command: one default collection, --json, exit codes, confirmations,
fast start-up, and a config file. Each test runs the real `rag` executable."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

from rag.config import Settings
from tests.conftest import BIN, KNOWLEDGE, ingest_knowledge
from tests.fakes import fake_openai_server

RAG = str(BIN / "rag")
HEAVY_MODULES = ("torch", "chromadb", "llama_index", "sentence_transformers", "transformers", "llama_cpp")


def run_rag(args: list[str], tmp_path: Path, input: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in `tmp_path` (no stray .env), with its own data dir and config folder unless `env` says."""
    full_env = {
        **os.environ, "RAG_DATA_DIR": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "COLUMNS": "200", **env,
    }  # fmt: skip
    for name in [k for k in full_env if k.startswith("RAG_") and k not in env and k != "RAG_DATA_DIR"]:
        del full_env[name]  # the developer's own settings stay out of the test
    return subprocess.run(
        [RAG, *args], capture_output=True, text=True, env=full_env, cwd=tmp_path, input=input, timeout=600
    )


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "rag" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_every_command_defaults_to_the_same_collection(tmp_path: Path) -> None:
    (tmp_path / "kb").mkdir()
    for name, text in KNOWLEDGE.items():
        (tmp_path / "kb" / name).write_text(text)
    team = {"RAG_DEFAULT_COLLECTION": "team"}
    ingested = run_rag(["ingest", "kb"], tmp_path, **team)
    assert ingested.returncode == 0, ingested.stderr
    listed = run_rag(["docs", "list", "--json"], tmp_path, **team)
    assert sorted(d["document_id"] for d in json.loads(listed.stdout)) == sorted(KNOWLEDGE)
    assert [c["name"] for c in json.loads(run_rag(["collections", "list", "--json"], tmp_path).stdout)] == ["team"]
    with fake_openai_server(reply="Employees receive 25 days of paid annual leave [1].") as fake:
        asked = run_rag(["ask", "How many days of annual leave?", "--json"], tmp_path, RAG_CHAT_BASE_URL=fake.base_url,
                        **team)  # fmt: skip
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert not answer["abstained"] and answer["sources"][0]["document_id"] == "leave.txt"
    # Without the setting, every command uses "sample", the collection scripts/run.sh fills.
    missing = run_rag(["docs", "list"], tmp_path)
    assert missing.returncode == 1 and "'sample' not found" in missing.stderr


def test_ingest_reports_skipped_unsupported_files_without_loading_bars(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "notes.md").write_text("# Notes\nKayaks float on water.")
    (docs / "song.mp3").write_bytes(b"ID3\x04\x00")
    (docs / "setup.exe").write_bytes(b"MZ\x90\x00")

    as_json = run_rag(["ingest", "docs", "-c", "boats", "--json"], tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    results = {r["document_id"]: r for r in json.loads(as_json.stdout)}
    assert results["notes.md"]["status"] == "ingested"
    assert results["song.mp3"]["status"] == "skipped" and ".mp3" in results["song.mp3"]["reason"]
    assert results["setup.exe"]["status"] == "skipped"
    assert "Loading weights" not in as_json.stdout + as_json.stderr  # transformers' bar stays out of the output

    summary = run_rag(["ingest", "docs", "-c", "boats"], tmp_path)
    assert summary.returncode == 0, summary.stderr
    assert "1 unchanged" in summary.stdout and "2 skipped" in summary.stdout
    assert "song.mp3: skipped, unsupported file type '.mp3'" in summary.stdout
    assert "Loading weights" not in summary.stdout + summary.stderr


def test_exit_codes_and_messages_for_missing_things(tmp_path: Path) -> None:
    unknown = run_rag(["docs", "list", "-c", "nope"], tmp_path)
    assert unknown.returncode == 1 and "collection 'nope' not found" in unknown.stderr

    nothing = run_rag(["summarize"], tmp_path)
    assert nothing.returncode == 2
    assert "nothing to summarize: give a FILE, or --document-id" in nothing.stderr and "not both" not in nothing.stderr
    (tmp_path / "a.txt").write_text("text")
    both = run_rag(["summarize", "a.txt", "--document-id", "x"], tmp_path)
    assert both.returncode == 2 and "not both" in both.stderr


def _on_a_terminal(args: list[str], answer: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """Run the CLI with a pseudo-terminal as stdin/stdout, answer its prompt, return (exit code, screen)."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([RAG, *args], stdin=follower, stdout=follower, stderr=follower, env=env, cwd=cwd)
    os.close(follower)
    screen, answered, deadline = b"", False, time.monotonic() + 300
    poller = select.poll()  # not select(): it cannot watch descriptors numbered 1024 or more
    poller.register(leader, select.POLLIN)
    while time.monotonic() < deadline:
        if poller.poll(500):
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            screen += chunk
            if not answered and b"[y/N]" in screen:
                os.write(leader, answer.encode() + b"\n")
                answered = True
        elif proc.poll() is not None:
            break
    os.close(leader)
    return proc.wait(timeout=300), screen.decode(errors="replace")


def test_collections_delete_asks_on_a_terminal_unless_yes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ingest_knowledge(Settings(_env_file=None, data_dir=data), "kb1")  # type: ignore[call-arg]
    ingest_knowledge(Settings(_env_file=None, data_dir=data), "kb2")  # type: ignore[call-arg]
    env = {**os.environ, "RAG_DATA_DIR": str(data), "XDG_CONFIG_HOME": str(tmp_path / "config")}

    code, screen = _on_a_terminal(["collections", "delete", "kb1"], "n", env, tmp_path)
    assert code == 1 and "Delete collection 'kb1' with its 3 document(s)?" in screen and "not deleted" in screen
    code, screen = _on_a_terminal(["collections", "delete", "kb1"], "y", env, tmp_path)
    assert code == 0 and "deleted collection kb1" in screen
    code, screen = _on_a_terminal(["collections", "delete", "kb2", "--yes"], "", env, tmp_path)
    assert code == 0 and "[y/N]" not in screen
    assert json.loads(run_rag(["collections", "list", "--json"], tmp_path).stdout) == []


def test_ask_chat_and_summarize_print_json_and_pass_sampling_options(tmp_path: Path) -> None:
    ingest_knowledge(Settings(_env_file=None, data_dir=tmp_path / "data"), "kb1")  # type: ignore[call-arg]
    (tmp_path / "memo.txt").write_text("The cafeteria opens at eight. Lunch is served from noon to two.")
    reply = "Full-time employees receive 25 days of paid annual leave [1]."
    with fake_openai_server(reply=reply) as fake:
        backend = {"RAG_CHAT_BASE_URL": fake.base_url}
        options = ["--max-tokens", "40", "--top-k", "1", "--temperature", "0.3"]
        asked = run_rag(["ask", "How many days of annual leave?", "-c", "kb1", "--json", *options], tmp_path, **backend)
        ask_request = fake.requests[-1].json
        chatted = run_rag(["chat", "-c", "kb1", "--json", *options], tmp_path,
                          input="How many days of annual leave?\nAnd for part-time staff?\n", **backend)  # fmt: skip
        summarized = run_rag(["summarize", "memo.txt", "--json"], tmp_path, **backend)

    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)  # stdout is exactly one JSON document: what POST /v1/query returns
    assert answer["answer"] == reply and not answer["abstained"]
    assert len(answer["sources"]) == 1 and answer["sources"][0]["filename"] == "leave.txt"
    assert answer["citations"][0]["n"] == 1 and answer["usage"]["completion_tokens"] > 0
    assert ask_request["max_tokens"] == 40 and ask_request["temperature"] == 0.3

    assert chatted.returncode == 0, chatted.stderr
    turns = [json.loads(line) for line in chatted.stdout.splitlines()]
    assert [t["question"] for t in turns] == ["How many days of annual leave?", "And for part-time staff?"]
    assert all(t["answer"] == reply for t in turns)

    assert summarized.returncode == 0, summarized.stderr
    summary = json.loads(summarized.stdout)
    assert summary["summary"] == reply and summary["model_calls"] == 1
    assert summary["sources"][0]["filename"] == "memo.txt"


def test_help_and_listing_commands_start_without_the_model_stack(tmp_path: Path) -> None:
    ingest_knowledge(Settings(_env_file=None, data_dir=tmp_path / "data"), "sample")  # type: ignore[call-arg]
    for args in (["--help"], ["docs", "list"], ["collections", "list"]):
        # PYTHONPROFILEIMPORTTIME makes Python list every module it imports on stderr.
        result = run_rag(args, tmp_path, PYTHONPROFILEIMPORTTIME="1")
        assert result.returncode == 0, result.stderr
        imported = set(re.findall(r"\|\s+([\w.]+)$", result.stderr, re.MULTILINE))
        assert imported, "no import profile"
        assert not {m.split(".")[0] for m in imported} & set(HEAVY_MODULES), args
    listed = run_rag(["docs", "list"], tmp_path)
    assert "leave.txt" in listed.stdout and "Loading weights" not in listed.stdout + listed.stderr


def test_config_file_applies_below_env_and_dotenv_and_rag_config_masks_keys(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        'default_collection = "from-file"\nmax_tokens = 99\nchat_api_key = "sk-file-secret"\nport = 8111\n',
    )
    (tmp_path / ".env").write_text("RAG_PORT=8222\n")
    shown = run_rag(["config", "--json"], tmp_path, RAG_MAX_TOKENS="12", RAG_API_KEYS="key-one,key-two")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    settings = report["settings"]
    assert report["config_file"] == str(tmp_path / "config" / "rag" / "config.toml") and report["config_file_exists"]
    assert settings["RAG_DEFAULT_COLLECTION"] == {"value": "from-file", "origin": "config file"}
    assert settings["RAG_MAX_TOKENS"] == {"value": 12, "origin": "env"}  # env beats the file
    assert settings["RAG_PORT"] == {"value": 8222, "origin": ".env"}  # .env beats the file
    assert settings["RAG_CHAT_API_KEY"] == {"value": "****", "origin": "config file"}
    assert settings["RAG_API_KEYS"] == {"value": "**** (2 keys)", "origin": "env"}
    assert settings["RAG_CANDIDATES"]["origin"] == "default"
    as_table = run_rag(["config"], tmp_path, RAG_API_KEYS="key-one,key-two")
    for secret in ("sk-file-secret", "key-one", "key-two"):
        assert secret not in shown.stdout + as_table.stdout
    assert "RAG_DEFAULT_COLLECTION" in as_table.stdout and "from-file" in as_table.stdout

    # The file's default collection is the one commands use.
    listed = run_rag(["docs", "list"], tmp_path)
    assert listed.returncode == 1 and "'from-file' not found" in listed.stderr
