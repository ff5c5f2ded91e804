"""Headless Chromium with networking off, and a small reader of the DOM it dumps.

Used by the report's browser test and by `bench/report_render.py`. Chromium runs as root
in CI, hence `--no-sandbox`; every run gets a fresh profile; a proxy on the discard port plus
a resolver that maps every host to NOTFOUND means any network request would fail.
"""
from __future__ import annotations

import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import attrs

__all__ = ["CHROMIUM", "Element", "chromium", "dump_dom", "parse_dom", "screenshot"]

CHROMIUM = Path("/usr/bin/chromium")
_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--proxy-server=127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND",
)
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}


def chromium(page: Path, *flags: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run Chromium on `page` (a local file) with networking off and a fresh profile."""
    with tempfile.TemporaryDirectory(prefix="kit-chromium-") as profile:
        return subprocess.run(
            [str(CHROMIUM), *_FLAGS, f"--user-data-dir={profile}", *flags, page.resolve().as_uri()],
            capture_output=True, text=True, timeout=timeout, check=False,
        )


def dump_dom(page: Path, *, budget_ms: int = 20000) -> str:
    """The DOM after the page's scripts ran (virtual time lets timers and promises finish)."""
    done = chromium(page, f"--virtual-time-budget={budget_ms}", "--dump-dom")
    if done.returncode != 0 or "<html" not in done.stdout:
        raise RuntimeError(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def screenshot(page: Path, png: Path, *, width: int = 1400, height: int = 2200) -> None:
    """Save a PNG of the rendered page."""
    png.parent.mkdir(parents=True, exist_ok=True)
    done = chromium(page, "--virtual-time-budget=20000", "--hide-scrollbars",
                    f"--window-size={width},{height}", f"--screenshot={png.resolve()}")
    if not png.is_file():
        raise RuntimeError(f"chromium wrote no screenshot (exit {done.returncode}): "
                           f"{done.stderr[-2000:]}")


@attrs.define(eq=False)
class Element:
    """One element of the dumped DOM."""

    tag: str
    attributes: dict[str, str]
    parent: Element | None
    children: list[Element] = attrs.field(factory=list)
    parts: list[str | Element] = attrs.field(factory=list)  # text and children, in order

    @property
    def text(self) -> str:
        """The element's own text (not its children's)."""
        return "".join(p for p in self.parts if isinstance(p, str))

    @property
    def classes(self) -> set[str]:
        return set(self.attributes.get("class", "").split())

    def text_content(self) -> str:
        """The text of this element and all below it."""
        return "".join(p if isinstance(p, str) else p.text_content() for p in self.parts)

    def iter(self) -> list[Element]:
        """This element and all below it, in document order."""
        out = [self]
        for child in self.children:
            out += child.iter()
        return out

    def find(self, tag: str | None = None, cls: str | None = None) -> list[Element]:
        """Elements below (and including) this one with `tag` and/or class `cls`."""
        return [e for e in self.iter()
                if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {}, None)
        self.current = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(element)
        self.current.parts.append(element)
        if tag not in _VOID:
            self.current = element

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(element)
        self.current.parts.append(element)

    def handle_endtag(self, tag: str) -> None:
        node: Element | None = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data: str) -> None:
        self.current.parts.append(data)


def parse_dom(html: str) -> Element:
    """The element tree of a serialized DOM."""
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root
