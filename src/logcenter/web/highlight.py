"""Stack traces and diffs as HTML: Pygments for traces (it escapes its input), unidiff to split a diff."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonTracebackLexer, TextLexer
from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

MAX_TRACE_CHARS = 200_000
DIFF_PAGE_LINES = 400  # lines of one file shown before "show the rest"


def stack_trace_html(trace: str, *, file_path: str | None, line_number: int | None) -> Markup:
    """The trace highlighted, with the lines of the raising frame (file and line of the bug) marked."""
    trace = trace[:MAX_TRACE_CHARS]
    lines = trace.splitlines()
    marked: list[int] = []
    if file_path and line_number:
        needle = re.compile(rf'File "[^"]*{re.escape(file_path)}", line {line_number}\b')
        for number, text in enumerate(lines, start=1):
            if needle.search(text):
                marked += [number, number + 1]  # the frame line and its source line
    python = any(line.startswith("Traceback (most recent call last)") for line in lines[:3])
    lexer = PythonTracebackLexer() if python else TextLexer()
    formatter = HtmlFormatter(cssclass="highlight", hl_lines=marked, linenos=False, wrapcode=True)
    # Pygments escapes &, <, >, " and ' of every token: the result holds no markup from the report.
    return Markup(highlight(trace, lexer, formatter))


def pygments_css() -> str:
    return HtmlFormatter(style="default").get_style_defs(".highlight")


@dataclass
class DiffLine:
    kind: str  # " " context, "+" added, "-" removed, "@" hunk header
    old: int | None
    new: int | None
    text: str


@dataclass
class DiffFile:
    path: str
    status: str
    added: int
    removed: int
    lines: list[DiffLine] = field(default_factory=list)
    truncated: int = 0  # lines not shown on this page

    def side_by_side(self) -> list[tuple[DiffLine | None, DiffLine | None]]:
        """Rows of (old, new): removed lines paired with the added lines that replace them."""
        rows: list[tuple[DiffLine | None, DiffLine | None]] = []
        removed: list[DiffLine] = []
        added: list[DiffLine] = []

        def flush() -> None:
            for i in range(max(len(removed), len(added))):
                rows.append((removed[i] if i < len(removed) else None, added[i] if i < len(added) else None))
            removed.clear()
            added.clear()

        for line in self.lines:
            if line.kind == "-":
                removed.append(line)
            elif line.kind == "+":
                added.append(line)
            else:
                flush()
                rows.append((line, line))
        flush()
        return rows


def parse_diff(
    diff: str, *, max_lines: int = DIFF_PAGE_LINES, full_file: int | None = None
) -> list[DiffFile]:
    """Files of a unified diff; each keeps its first `max_lines` lines (all of file `full_file`'s)."""
    try:
        patch = PatchSet(diff)
    except UnidiffParseError:
        return [
            DiffFile("(diff)", "modified", 0, 0, [DiffLine(" ", None, None, t) for t in diff.splitlines()])
        ]
    files = []
    for index, patched in enumerate(patch):
        status = (
            "added"
            if patched.is_added_file
            else "deleted"
            if patched.is_removed_file
            else "renamed"
            if patched.is_rename
            else "modified"
        )
        item = DiffFile(patched.path, status, patched.added, patched.removed)
        limit = None if full_file == index else max_lines
        count = 0
        for hunk in patched:
            lines = [
                DiffLine(
                    "@",
                    None,
                    None,
                    f"@@ -{hunk.source_start},{hunk.source_length} "
                    f"+{hunk.target_start},{hunk.target_length} @@ {hunk.section_header}".rstrip(),
                )
            ]
            lines += [
                DiffLine(line.line_type, line.source_line_no, line.target_line_no, line.value.rstrip("\n"))
                for line in hunk
                if line.line_type in (" ", "+", "-")
            ]
            for line in lines:
                count += 1
                if limit is None or count <= limit:
                    item.lines.append(line)
                else:
                    item.truncated += 1
        files.append(item)
    return files
