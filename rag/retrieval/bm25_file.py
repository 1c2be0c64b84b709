"""A BM25 index saved to a directory of .npy files and opened memory-mapped: a large collection's keyword index
is ready in seconds at start rather than re-tokenised from every chunk's text (minutes at a million chunks), and
the arrays a search rarely touches (each chunk's term counts, the postings of rare terms) stay on disk until read.

The files are a cache, never the record: rag.retrieval.keyword catches them up with the change log after opening
them and rebuilds from the chunk rows when they do not match (see there). Written to a temporary directory and
renamed into place, so a reader sees a whole index or none, and a process that has the old one mapped keeps it.
Hand-written rather than pickled: pickle would load every array into memory and run code from a file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.retrieval.bm25 import Bm25Index, _Block, _Postings
from rag.text.analyzer import Analyzer

FORMAT = 1  # bumped when the layout or the analyzer's output changes: an older file is then rebuilt
_SEP = "\0"  # chunk ids, document ids and words never hold a NUL


def save_index(index: Bm25Index, directory: Path, latest: int) -> None:
    """Write `index`, current to change log position `latest`, to `directory` (replacing what was there)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
    try:
        with index.lock:  # the big arrays are written piece by piece from the index's own: held meanwhile
            arrays, header = _snapshot(index)
            for name, array in arrays.items():
                _write(staging / f"{name}.npy", array)
        (staging / "index.json").write_text(json.dumps({**header, "format": FORMAT, "latest": latest}))
        old = directory.with_name(f".{directory.name}-old")
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            os.replace(directory, old)  # a directory cannot replace a non-empty one in one step
        os.replace(staging, directory)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def load_index(directory: Path, analyzer: Analyzer) -> tuple[Bm25Index, int] | None:
    """The saved index and the change log position it is current to; None when there is none or it is of
    another format (or unreadable: the caller then builds it from the rows)."""
    try:
        header = json.loads((directory / "index.json").read_text())
        if header.get("format") != FORMAT:
            return None
        # Plain arrays over the mapped memory (np.memmap slices cost microseconds each: a term's postings are one).
        arrays = {p.stem: np.asarray(np.load(p, mmap_mode="r", allow_pickle=False)) for p in directory.glob("*.npy")}
        return _restore(header, arrays, analyzer), int(header["latest"])
    except (OSError, ValueError, KeyError):
        return None


def _text(strings: list[str]) -> np.ndarray:
    return np.frombuffer(_SEP.join(strings).encode(), dtype=np.uint8)


def _strings(blob: np.ndarray, count: int) -> list[str]:
    return bytes(blob).decode().split(_SEP) if count else []


@dataclass
class _Pieces:
    """A 1-d array written piece by piece: a copy of the whole would double a large index's memory."""

    dtype: str
    count: int
    pieces: Iterable[np.ndarray]


def _write(path: Path, array: np.ndarray | _Pieces) -> None:
    if isinstance(array, np.ndarray):
        np.save(path, array, allow_pickle=False)
        return
    with path.open("wb") as out:
        header = {"descr": np.dtype(array.dtype).str, "fortran_order": False, "shape": (array.count,)}
        np.lib.format.write_array_header_1_0(out, header)
        written = 0
        for piece in array.pieces:
            piece = np.ascontiguousarray(piece, dtype=array.dtype)
            out.write(piece.data)
            written += len(piece)
        assert written == array.count, f"{path.name}: {written} values, not {array.count}"


def _snapshot(index: Bm25Index) -> tuple[dict[str, np.ndarray | _Pieces], dict[str, object]]:
    """The index's state as flat arrays: postings term-major (CSR), term counts slot-major (one block)."""
    postings = index._postings  # each term's segments, in slot order: written one after the other, not merged
    sizes = np.array([sum(len(s) for s in p.slots) for p in postings], dtype=np.int64)
    blocks = index._blocks
    block_sizes = [len(b.offsets) - 1 for b in blocks]
    # Each block's offsets restart at 0: shift them by the terms of the blocks before it.
    shifts = np.cumsum([0] + [len(b.terms) for b in blocks])
    offsets = [np.zeros(1, np.int64)] + [b.offsets[1:].astype(np.int64) + shifts[i] for i, b in enumerate(blocks)]
    words = list(index._word_terms)
    documents = list(index._documents)
    arrays = {
        "postings_offsets": np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        "postings_slots": _Pieces("<i4", int(sizes.sum()), (s for p in postings for s in p.slots)),
        "postings_tfs": _Pieces("<f4", int(sizes.sum()), (t for p in postings for t in p.tfs)),
        "block_offsets": np.concatenate(offsets),
        "block_terms": _Pieces("<i4", int(shifts[-1]), (b.terms for b in blocks)),
        "block_tfs": _Pieces("<f4", int(shifts[-1]), (b.tfs for b in blocks)),
        "df": index._df,
        "lengths": index._lengths,
        "alive": index._alive,
        "named_slots": np.array(sorted(index._slot_of.values()), dtype=np.int64),  # the slots ids resolve to
        "rowids": np.asarray(index._rowids, dtype=np.int64),
        "chunk_ids": _text(index._chunk_ids),
        "stems": _text(list(index.vocabulary)),
        "words": _text(words),
        "word_terms": np.array([index._word_terms[w] for w in words], dtype=np.int64),
        "document_ids": _text(documents),
        "document_slots": np.array([[r.start, r.stop] for r in index._documents.values()], dtype=np.int64).reshape(
            -1, 2
        ),
    }
    assert sum(block_sizes) == len(index._chunk_ids), "every slot is in one block"
    header = {
        "chunks": len(index._chunk_ids),
        "terms": len(index._postings),
        "words": len(words),
        "documents": len(documents),
        "live": index._live,
        "total_length": index._total_length,
        "k1": index.k1,
        "b": index.b,
    }
    return arrays, header


def _restore(header: dict, arrays: dict[str, np.ndarray], analyzer: Analyzer) -> Bm25Index:
    index = Bm25Index(analyzer, k1=float(header["k1"]), b=float(header["b"]))
    stems = _strings(arrays["stems"], header["terms"])
    index.vocabulary = dict(zip(stems, range(len(stems)), strict=True))
    words = _strings(arrays["words"], header["words"])
    index._word_terms = dict(zip(words, arrays["word_terms"].tolist(), strict=True))
    offsets, slots, tfs = arrays["postings_offsets"], arrays["postings_slots"], arrays["postings_tfs"]
    # Views into the mapped files: a term's postings are read from disk the first time a query holds it.
    index._postings = [_Postings([slots[a:b]], [tfs[a:b]]) for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
    index._df = np.array(arrays["df"])  # in memory: changed in place by adds and removals
    index._chunk_ids = _strings(arrays["chunk_ids"], header["chunks"])
    index._slot_of = {index._chunk_ids[slot]: slot for slot in arrays["named_slots"].tolist()}
    index._rowids = arrays["rowids"].tolist()
    index._lengths = np.array(arrays["lengths"])
    index._alive = np.array(arrays["alive"])
    if header["chunks"]:
        index._blocks = [_Block(0, arrays["block_offsets"], arrays["block_terms"], arrays["block_tfs"])]
        index._block_firsts = [0]
    documents = _strings(arrays["document_ids"], header["documents"])
    index._documents = {d: range(int(a), int(b)) for d, (a, b) in zip(documents, arrays["document_slots"], strict=True)}
    index._live, index._total_length = int(header["live"]), float(header["total_length"])
    return index
