"""The `git` connector: the files of a branch of a repository (a local path or a URL), optionally under a sub-folder.

Each sync takes the branch's current commit. The marker is each file's blob id as `git ls-tree` lists it: a
file changed between the last synced commit and this one has a new blob id, one that did not keeps its id,
so comparing the ids gives exactly the diff between the commits without reading any file, and stays right
after a sync cut off half-way (its items are then at two commits). A URL is cloned once (bare, into the
source's work folder) and fetched at every sync; a local repository is read in place, its committed files only.

Git is run as the `git` command: it is on every machine that has repositories, reads every repository
format and protocol (ssh, https with credential helpers) git itself does, and adds no dependency; dulwich
would re-implement git's protocols in Python, and GitPython itself runs this same command.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ingest.connectors.base import ConnectorContext, Item, SourceUnavailable
from ingest.loaders import is_supported

GIT_TIMEOUT_S = 600.0
# Only the transports a repository is fetched over: git's ext:: and fd:: (which run commands) are refused even
# when a user's git config allows them.
_GIT_SAFETY = {"GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh", "GIT_TERMINAL_PROMPT": "0"}
_WEB_REMOTE = re.compile(r"^https?://")


class GitConnector:
    def __init__(self, location: str, options: dict[str, Any], context: ConnectorContext) -> None:
        self.location = location
        self.branch = str(options.get("branch") or "HEAD")
        self.subfolder = str(options.get("subfolder") or "").strip("/")
        self.remote = "://" in location or location.startswith("git@")
        self.repo = context.workdir / "repo.git" if self.remote else Path(location).expanduser()
        self.cursor: str | None = None

    def list_items(self) -> Iterator[Item]:
        if self.remote:
            self._fetch()
        elif not self.repo.exists():
            raise SourceUnavailable(f"repository {self.location!r} is not there")
        commit = self._git("rev-parse", "--verify", "--quiet", f"{self.branch}^{{commit}}").decode().strip()
        self.cursor = commit
        listing = self._git(
            "ls-tree", "-r", "-z", "-l", "--full-tree", commit, *([self.subfolder] if self.subfolder else [])
        )
        prefix = f"{self.subfolder}/" if self.subfolder else ""
        for entry in listing.split(b"\0"):
            if not entry:
                continue
            info, _, raw_path = entry.partition(b"\t")
            mode, kind, blob, size = info.decode().split()
            path = raw_path.decode("utf-8", "surrogateescape")
            if kind != "blob" or mode == "120000" or not path.startswith(prefix):  # symlinks point anywhere
                continue
            key = path[len(prefix) :]
            if Path(key).name.startswith(".") or not is_supported(Path(key)):
                continue
            yield Item(key, blob, int(size), self._permalink(commit, path))

    def read(self, item: Item) -> bytes:
        return self._git("cat-file", "blob", item.marker)

    def _fetch(self) -> None:
        if not (self.repo / "HEAD").exists():
            self.repo.parent.mkdir(parents=True, exist_ok=True)
            # "--": a location is never read as an option (--upload-pack=... would run a command).
            self._run(["git", "clone", "--bare", "--quiet", "--", self.location, str(self.repo)], "clone")
        else:
            self._git("fetch", "--quiet", "--prune", "origin", "+refs/heads/*:refs/heads/*")

    def _permalink(self, commit: str, path: str) -> str:
        """Where a person opens this file as it was at `commit`: the forge's page for https remotes
        (GitHub, GitLab, Gitea and Forgejo all answer /blob/COMMIT/PATH), else repository@commit:path."""
        if _WEB_REMOTE.match(self.location):
            return f"{self.location.removesuffix('.git').rstrip('/')}/blob/{commit}/{path}"
        return f"{self.location}@{commit}:{path}"

    def _git(self, *args: str) -> bytes:
        return self._run(["git", "-C", str(self.repo), *args], args[0])

    def _run(self, command: list[str], what: str) -> bytes:
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=GIT_TIMEOUT_S, check=False, env={**os.environ, **_GIT_SAFETY}
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SourceUnavailable(f"git {what} failed: {exc}") from exc
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
            if what == "rev-parse":
                detail = f"no branch or commit {self.branch!r}"
            raise SourceUnavailable(f"git {what} of {self.location!r} failed: {detail}")
        return done.stdout
