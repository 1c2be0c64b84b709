"""Site-template syntax (Liquid, Jinja, Nunjucks) taken out of a page's source before it is read as Markdown.

Static-site pages carry `{% tag ... %}`, `{{ expression }}` and `{# comment #}` that only the site's
generator understands; left in, they show up in quotes (`[Meet]({% page "/tools/meet/" %})`) and a tag in a
link's URL even stops the link from being parsed. No library parses "any template language" without
running it, and the three share this one syntax, so it is matched here by hand.
"""

from __future__ import annotations

import re

# A tag's body is bounded so an unclosed `{%` costs a bounded scan, not one to the end of the file.
_TAG = re.compile(
    r"\{%-?\s*(?P<name>\w+)(?P<args>.{0,2000}?)-?%\}|\{\{.{0,2000}?\}\}|\{#.{0,2000}?#\}",
    re.DOTALL,
)
_QUOTED = re.compile(r"\"([^\"\n]*)\"|'([^'\n]*)'")
# Tags of the template languages themselves, whose arguments are code or file names, never text to show.
_CODE_TAGS = frozenset(
    "if elif elsif else unless case when for endfor set assign capture increment decrement include render"
    " extends import from macro call block filter with cycle layout tablerow liquid echo".split()
)
# One word that is a path, URL, file name or anchor ("/x/", "_img/a.png", "a.html", "https://x", "#id").
_PATH_LIKE = re.compile(r"^(?:[./~#]|\w+:)\S*$|^\S*[/\\]\S*$|^\S*\.\w{1,5}$")


def strip_template_tags(text: str) -> str:
    """`text` without template tags: a block tag's inner text stays (`{% alert %}Note{% endalert %}` reads
    "Note"), `{% raw %}` content stays verbatim, `{% comment %}` content goes, and an inline tag keeps the
    quoted arguments that read as words (`{% slack_channel "dc" %}` reads "dc", an image tag its alt text)
    but not those that are paths, URLs or file names."""
    out: list[str] = []
    position = 0
    skip_until: str | None = None  # the closing tag of a raw or comment block being passed over
    for match in _TAG.finditer(text):
        name = match.group("name")
        if skip_until is not None:
            if name == skip_until:
                _append(out, text[position : match.start()] if skip_until == "endraw" else "")
                skip_until, position = None, match.end()
            continue
        _append(out, text[position : match.start()])
        position = match.end()
        if name in ("raw", "comment"):
            skip_until = "end" + name
        elif name and name not in _CODE_TAGS and not name.startswith("end"):
            words = " ".join(_words_of(match.group("args")))
            # A tag alone on its line (an alert's title, an image) is a paragraph of its own, not the start
            # of the next one.
            alone = _alone_on_line(text, match.start(), match.end())
            _append(out, f"\n{words}\n" if words and alone else words)
        else:
            _append(out, "")
    _append(out, "" if skip_until == "comment" else text[position:])
    return "".join(out)


def _append(out: list[str], piece: str) -> None:
    """Add `piece`; after a tag that left nothing, a space before punctuation goes ("Done {% x %}." reads
    "Done.")."""
    if out and not out[-1] and piece[:1] in (".", ",", ";", ":", "!", "?", ")") and len(out) > 1:
        out[-2] = out[-2].rstrip(" \t")
    out.append(piece)


def strip_raw_markers(text: str) -> str:
    """Only the `{% raw %}`/`{% endraw %}` markers out of code, which shows what is between them as is."""
    return re.sub(r"\{%-?\s*(?:end)?raw\s*-?%\}", "", text)


def _alone_on_line(text: str, start: int, end: int) -> bool:
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return not text[line_start:start].strip() and not text[end : len(text) if line_end < 0 else line_end].strip()


def _words_of(args: str) -> list[str]:
    quoted = (double or single for double, single in _QUOTED.findall(args))
    return [value.strip() for value in quoted if value.strip() and not _PATH_LIKE.search(value.strip())]
