"""Markdown as the plain text a reader sees: what answers quote, without link URLs, emphasis or table pipes.

Parsed with markdown-it-py (CommonMark, plus GitHub tables and strikethrough) and rendered from its syntax
tree, block by block, each block knowing the headings it sits under (each chunk's section path).
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

import yaml
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.html import INVISIBLE_TAGS
from ingest.loaders.sections import SectionTracker
from ingest.loaders.templates import strip_raw_markers, strip_template_tags
from ingest.loaders.text import load_text

# YAML front matter: a first line of `---`, then up to a line of `---` or `...` (Jekyll, Hugo, Eleventy).
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.DOTALL)
_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_CODE_TYPES = ("fence", "code_block")
WINDOW_CHARS = 1_000_000  # most source characters parsed into one syntax tree (a block may be longer)
_HTML_BLOCKS = re.compile(
    r"^(?:address|article|aside|blockquote|br|dd|details|div|dl|dt|figcaption|figure|footer|form|h[1-6]|header|hr"
    r"|li|main|nav|ol|p|pre|section|summary|table|td|th|tr|ul)$"
)


@dataclass(frozen=True)
class Block:
    text: str
    headings: tuple[str, ...]  # the headings above this block, outermost first; a heading's own includes itself


def load_markdown(data: bytes) -> LoadedDocument:
    """Plain text of the Markdown file, blocks apart by a blank line so no heading runs into a sentence;
    the front matter's `title` is the document's title and its first line."""
    source = load_text(data).pages[0].text
    body, title = split_front_matter(source)
    blocks = list(markdown_blocks(body))
    if title and (not blocks or blocks[0].text != title):
        blocks.insert(0, Block(title, ()))
    tracker, offset = SectionTracker(), 0
    for block in blocks:
        tracker.enter(block.headings, offset)
        offset += len(block.text) + 2
    text = "\n\n".join(block.text for block in blocks)
    return LoadedDocument(pages=[Page(text, sections=tuple(tracker.sections))], title=title)


def split_front_matter(source: str) -> tuple[str, str | None]:
    """The text after any YAML front matter, and the front matter's `title` if it has one."""
    match = _FRONT_MATTER.match(source)
    if not match:
        return source, None
    try:
        fields = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError:
        fields = None
    title = fields.get("title") if isinstance(fields, dict) else None
    title = html.unescape(str(title)).strip() if isinstance(title, str | int | float) else None
    return source[match.end() :], title or None


def markdown_blocks(source: str) -> Iterator[Block]:
    """The rendered blocks of `source` (no front matter) in reading order, template tags taken out.

    A syntax tree costs ~25 bytes of memory per character of source, so a big file is parsed in windows of
    whole top-level blocks (a list, a table, a fenced block never cut), sharing the link reference
    definitions that one pass over the block structure collected."""
    text = _without_templates(source)
    env: dict = {}
    top_level = [t.map[0] for t in _parser(blocks_only=True).parse(text, env) if t.level == 0 and t.map]
    if not top_level:
        return
    lines = text.splitlines(keepends=True)
    headings: list[tuple[int, str]] = []
    start, size = 0, 0
    for first, following in zip(top_level, top_level[1:] + [len(lines)], strict=True):
        size += sum(len(line) for line in lines[first:following])
        if size >= WINDOW_CHARS or following == len(lines):
            window = "".join(lines[start:following])
            yield from _blocks(SyntaxTreeNode(_parser().parse(window, dict(env))), headings)
            start, size = following, 0


@functools.cache
def _parser(blocks_only: bool = False) -> MarkdownIt:
    parser = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    return parser.disable("inline") if blocks_only else parser


def _without_templates(source: str) -> str:
    """`source` with template tags out everywhere but code blocks, before parsing: a tag in a link's URL
    (`[Meet]({% page "/meet/" %})`) would otherwise keep the link from being parsed as one."""
    if "{" not in source:
        return source
    lines = source.splitlines(keepends=True)
    pieces: list[str] = []
    done = 0
    for token in _parser(blocks_only=True).parse(source):  # where the code blocks are: no inline parsing
        if token.type in _CODE_TYPES and token.map:
            first, last = token.map
            pieces.append(strip_template_tags("".join(lines[done:first])))
            pieces.append(strip_raw_markers("".join(lines[first:last])))
            done = last
    pieces.append(strip_template_tags("".join(lines[done:])))
    return "".join(pieces)


def _blocks(node: SyntaxTreeNode, headings: list[tuple[int, str]]) -> Iterator[Block]:
    for child in node.children:
        if child.type == "heading":
            level, text = int(child.tag[1:]), _inline(child)
            while headings and headings[-1][0] >= level:
                headings.pop()
            headings.append((level, text))
            if text:
                yield Block(text, _path(headings))
        elif child.type in ("blockquote", "container"):
            yield from _blocks(child, headings)
        else:
            text = "\n".join(_lines(child)).strip("\n")
            if text.strip():
                yield Block(text, _path(headings))


def _path(headings: list[tuple[int, str]]) -> tuple[str, ...]:
    return tuple(text for _, text in headings)


def _lines(node: SyntaxTreeNode) -> list[str]:
    """The lines of one block (a paragraph, list, table, code or HTML block)."""
    if node.type == "paragraph" or node.type == "heading":
        return _inline(node).splitlines()
    if node.type in ("bullet_list", "ordered_list"):
        return _list_lines(node)
    if node.type == "table":
        return _table_lines(node)
    if node.type in _CODE_TYPES:
        return node.content.rstrip("\n").splitlines()
    if node.type == "html_block":
        return html_text(node.content).splitlines()
    if node.type == "blockquote":
        return [line for child in node.children for line in _lines(child)]
    return []  # a thematic break


def _list_lines(node: SyntaxTreeNode) -> list[str]:
    """One line per item with its marker kept ("- ", "3. "): the sentence splitter ends a sentence there."""
    lines: list[str] = []
    first = int(node.attrs.get("start", 1))  # numbered as shown: "1. 1. 1." in the source reads "1. 2. 3."
    for number, item in enumerate(node.children, start=first):
        marker = f"{number}{item.markup} " if node.type == "ordered_list" else "- "
        item_lines = [line for child in item.children for line in _lines(child)]
        if not item_lines:
            continue
        lines.append(marker + item_lines[0])
        lines += [" " * len(marker) + line if line else line for line in item_lines[1:]]
    return lines


def _table_lines(node: SyntaxTreeNode) -> list[str]:
    """A row as "Header: cell; Header: cell", rows a blank line apart: a quoted row says what each value
    is even when the header row is in another chunk, and each row is a sentence of its own."""
    rows = [[_inline(cell) for cell in row.children] for part in node.children for row in part.children]
    if not rows:
        return []
    has_header = node.children[0].type == "thead" and any(rows[0])
    header, body = (rows[0], rows[1:]) if has_header else ([], rows)
    if not body:
        body, header = [header], []
    lines: list[str] = []
    for row in body:
        pairs = [(header[i] if i < len(header) else "", cell) for i, cell in enumerate(row)]
        cells = [f"{name}: {cell}" if name and name != cell else cell for name, cell in pairs if cell]
        if cells:
            lines += ["; ".join(cells), ""]
    return lines[:-1]


def _inline(node: SyntaxTreeNode) -> str:
    """The text of a paragraph, heading or table cell, spaces collapsed (a hard break stays a line break)."""
    lines = (re.sub(r"[ \t]+", " ", line).strip() for line in _run(node).splitlines())
    return "\n".join(line for line in lines if line)


def _run(node: SyntaxTreeNode) -> str:
    """The text of an inline run: link text without its URL, image alt text, code without backticks."""
    parts: list[str] = []
    for child in node.children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "softbreak":
            parts.append(" ")
        elif child.type == "hardbreak":
            parts.append("\n")
        elif child.type == "html_inline":
            parts.append("\n" if _BREAK_TAG.fullmatch(child.content.strip()) else "")  # tags; text sits between
        else:  # inline, link, image, emphasis, strong, strikethrough
            parts.append(_run(child))
    return "".join(parts)


def html_text(markup: str) -> str:
    """The visible text of an HTML block: a line per block element, inline elements left inside their line
    (BeautifulSoup's `get_text("\\n")` would break "with <em>anyone</em>," into three lines)."""
    soup = BeautifulSoup(markup, "html.parser")
    for tag in soup(INVISIBLE_TAGS):
        tag.decompose()
    for tag in soup.find_all(_HTML_BLOCKS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return "\n".join(line for line in lines if line)
