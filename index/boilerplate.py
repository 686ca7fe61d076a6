"""Page chrome a reader skips: menus, tables of contents and link lists, found by name and by link density.

Left in, they become chunks that name every topic of a site or page (a table of contents matches every
question about the page) and crowd out the passages that answer (bench/quality.py).
"""

from __future__ import annotations

import re

from bs4 import NavigableString, Tag

# Class or id words that name navigation; checked on blocks only, so inline spans such as Sphinx's
# "menuselection" (a GUI label inside a sentence) stay.
_CHROME_NAME = re.compile(r"^(nav|menu|toc|breadcrumb|sidebar|footer|skip)", re.IGNORECASE)
_BLOCKS = frozenset(
    {
        "div",
        "ul",
        "ol",
        "dl",
        "table",
        "section",
        "aside",
        "header",
        "footer",
        "center",
        "p",
        "td",
        "tr",
    }
)
MIN_LINKS = 3
LINK_SHARE = 0.6


def _names(tag: Tag) -> list[str]:
    classes = tag.get("class") or []
    words = list(classes) if isinstance(classes, list) else str(classes).split()
    return [*words, str(tag.get("id") or "")]


def is_named_chrome(tag: Tag) -> bool:
    """A block whose class or id says it is navigation, a menu, a table of contents or a footer."""
    return tag.name in _BLOCKS and any(_CHROME_NAME.match(name) for name in _names(tag) if name)


def drop_chrome(root: Tag) -> None:
    """Remove named navigation blocks and blocks made mostly of links (≥ 3 links, ≥ 60% of the text)
    below `root`, never `root` itself."""
    for tag in root.find_all(is_named_chrome):
        if not tag.decomposed:
            tag.decompose()
    # Post-order without recursion (documents can nest deeper than Python's stack): text and link
    # characters are summed bottom-up, so every block is judged on what remains inside it.
    totals: dict[int, tuple[int, int, int]] = {}
    stack: list[tuple[Tag, bool]] = [(root, False)]
    while stack:
        tag, visited = stack.pop()
        if not visited:
            stack.append((tag, True))
            stack.extend((child, False) for child in tag.children if isinstance(child, Tag))
            continue
        chars = link_chars = links = 0
        for child in tag.children:
            if isinstance(child, Tag):
                c, lc, n = totals.pop(id(child), (0, 0, 0))
                chars, link_chars, links = chars + c, link_chars + lc, links + n
            elif type(child) is NavigableString:  # not comments or doctypes
                chars += len(" ".join(child.split()))
        if tag.name == "a":
            link_chars, links = chars, links + 1
        if (
            tag is not root
            and tag.name in _BLOCKS
            and links >= MIN_LINKS
            and chars
            and link_chars >= LINK_SHARE * chars
        ):
            tag.decompose()
            chars = link_chars = links = 0
        totals[id(tag)] = (chars, link_chars, links)
