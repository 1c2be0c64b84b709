"""Which files of a folder `rag ingest DIR` takes: supported types, minus `.ragignore`, never outside the folder.

A symlink inside the folder can point anywhere (`notes.txt -> /etc/passwd`); ingesting what it points to
would copy files from outside the folder into a collection that others can search. So symlinks that
leave the folder, and symlinked sub-folders, are not followed unless asked, and each one left out is
reported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

from ingest.loaders import is_supported


@dataclass
class FolderFiles:
    """Files to ingest as (path, id relative to the folder), and what was left out with the reason."""

    files: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def folder_files(root: Path, recursive: bool, follow_symlinks: bool = False) -> FolderFiles:
    """Supported, non-hidden files of `root` (and its sub-folders if `recursive`), sorted by relative path;
    unsupported files and symlinks out of the folder come back as `skipped`, with the reason."""
    real_root = root.resolve()
    ignore_file = root / ".ragignore"
    ignored = ignore_file.read_text().split() if ignore_file.is_file() else []
    found = FolderFiles()
    visited = {real_root}  # os.walk would loop forever on a symlink to a parent folder
    for directory, subdirs, names in os.walk(root, followlinks=follow_symlinks):
        here = Path(directory)
        kept = []
        for name in sorted(subdirs) if recursive else []:
            sub = here / name
            real = sub.resolve()
            if sub.is_symlink() and not follow_symlinks:
                if not real.is_relative_to(real_root):  # inside ones are reached through their real path
                    found.skipped.append((_relative(sub, root), f"symlink to a folder outside it ({real})"))
            elif real not in visited:
                visited.add(real)
                kept.append(name)
        subdirs[:] = kept
        for name in names:
            path = here / name
            relative = _relative(path, root)
            if name.startswith(".") or any(fnmatch(relative, p) for p in ignored):
                continue
            if not is_supported(path):  # said, not silently left out: the user may expect it ingested
                found.skipped.append((relative, f"unsupported file type '{path.suffix or name}'"))
                continue
            reason = _outside(path, real_root) if not follow_symlinks else None
            if reason:
                found.skipped.append((relative, reason))
            elif path.is_file():
                found.files.append((path, relative))
    found.files.sort(key=lambda item: item[1])
    found.skipped.sort()
    return found


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _outside(path: Path, real_root: Path) -> str | None:
    """Why a symlinked file must not be followed, or None when it stays inside the folder."""
    if not path.is_symlink():
        return None
    target = path.resolve()
    if target.exists() and not target.is_relative_to(real_root):  # a broken link is no file: left out silently
        return f"symlink to a file outside the folder ({target})"
    return None
