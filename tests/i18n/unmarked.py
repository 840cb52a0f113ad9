"""Finds text a person would read that is not marked for translation.

    .venv/bin/python -m tests.i18n.unmarked [files or folders]   (default: the user-facing code)

A string literal (or f-string) is reported when it is
  * shown: an argument of a call that puts text on a screen, a printout or the terminal
    (setText, QLabel, addRow, showMessage, print, CliError, a domain error, ...), or
  * a sentence: three or more words, outside a log call, a `raise` of an internal error, a
    docstring, a comparison or a dictionary key,
and it is not inside `_()`, `N_()`, `ngettext()`, `pgettext()`, `npgettext()`, `t()`, `tn()`.
`# i18n: ignore (why)` at the end of a line, or alone on the line above, keeps it out;
`# i18n: ignore-file` keeps a whole file out (IT diagnostics written to the log as well).
tests/i18n/test_marked_strings.py runs this over the product.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
USER_FACING = (
    "app/ui",
    "app/commandline",
    "app/cli.py",
    "app/domain",
    "app/services",
    "app/main.py",
)
MARKERS = frozenset({"_", "N_", "NC_", "ngettext", "pgettext", "npgettext", "t", "tn", "say"})
SHOWN = frozenset(
    {
        # Qt: what a widget, a dialog or the status bar shows
        "setText", "setWindowTitle", "setToolTip", "setStatusTip", "setWhatsThis",
        "setPlaceholderText", "setAccessibleName", "setAccessibleDescription", "addTab",
        "insertTab", "setTabText", "setTabToolTip", "addItem", "addItems", "insertItem",
        "setItemText", "setHorizontalHeaderLabels", "setVerticalHeaderLabels",
        "setHeaderLabels", "addRow", "setTitle", "setSuffix", "setPrefix",
        "setSpecialValueText", "showMessage", "setLabelText", "setInformativeText",
        "setDetailedText", "setButtonText", "addButton", "addAction", "addMenu", "setHtml",
        "setPlainText", "setDisplayFormat", "QLabel", "QPushButton", "QCheckBox",
        "QRadioButton", "QGroupBox", "QAction", "QToolButton", "QMenu", "QMessageBox",
        "information", "warning", "critical", "question", "setWindowIconText",
        # the terminal and the errors people read
        "print", "echo", "say_line", "CliError", "UsageError", "UserFacingError",
        "DomainError", "ValidationError", "AlreadyDoneError", "NotFoundError",
        "PreconditionError", "AllergyConflictError", "DoubleBookingError", "RoleError",
    }
)  # fmt: skip
SHOWN_KEYWORDS = frozenset({"help", "description", "label", "title", "text", "epilog"})
LOG_CALLS = frozenset({"debug", "info", "warning", "error", "exception", "critical", "log"})
INTERNAL_ERRORS = frozenset(
    {"RuntimeError", "AssertionError", "ValueError", "TypeError", "KeyError", "LookupError",
     "NotImplementedError", "OSError", "IndexError", "AttributeError"}
)  # fmt: skip
SENTENCE = re.compile(r"[A-Za-z][a-z']+(?:[ ,;:]+[A-Za-z][a-z'’]*){2,}")
# Format strings for dates and numbers, file globs, SQL, markup: not words people read.
NOT_WORDS = re.compile(r"^[\s%{}\[\]().,:;|/\\*#@=<>+\-0-9A-Z_]*$")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    text: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.why}: {self.text[:70]!r}"


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _text(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "{…}" for v in node.values)
    return None


def _wordy(text: str) -> bool:
    return bool(re.search(r"[A-Za-z]{2,}", text)) and not NOT_WORDS.match(text)


class _Scan(ast.NodeVisitor):
    def __init__(self, path: str, lines: list[str]) -> None:
        self.path, self.lines = path, lines
        self.findings: list[Finding] = []
        self.skip: set[int] = set()  # ids of nodes already judged

    def _report(self, node: ast.expr, why: str) -> None:
        text = _text(node)
        if text is None or id(node) in self.skip or not _wordy(text):
            return
        # on the literal's line, or alone on the line above it
        here = self.lines[node.lineno - 1] if node.lineno <= len(self.lines) else ""
        above = self.lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
        if "i18n: ignore" in here or above.startswith("# i18n: ignore"):
            return
        self.skip.add(id(node))
        self.findings.append(Finding(self.path, node.lineno, text, why))

    def _mark_all(self, node: ast.AST) -> None:
        for sub in ast.walk(node):
            self.skip.add(id(sub))

    def visit_Call(self, node: ast.Call) -> None:
        name = _name(node.func)
        if name in MARKERS:
            self._mark_all(node)
            return
        if name in LOG_CALLS and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if isinstance(target, ast.Name) and target.id in {"log", "logger", "logging", "_log"}:
                self._mark_all(node)
                return
        if name in INTERNAL_ERRORS:
            self._mark_all(node)
            return
        if name in SHOWN:
            # An error's later arguments are its field and ids, not words.
            shown_args = node.args[:1] if name.endswith("Error") else node.args
            for arg in shown_args:
                self._shown(arg, f"shown by {name}() unmarked")
        for kw in node.keywords:
            if kw.arg in SHOWN_KEYWORDS:
                self._shown(kw.value, f"{kw.arg}= unmarked")
        # "Saved {x}".format(...) without _() around the template
        if isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            self._report(node.func.value, "formatted text unmarked")
        self.generic_visit(node)

    def _shown(self, arg: ast.expr, why: str) -> None:
        if isinstance(arg, ast.BinOp):  # "Saved " + name
            self._shown(arg.left, why)
            self._shown(arg.right, why)
        elif isinstance(arg, ast.IfExp):
            self._shown(arg.body, why)
            self._shown(arg.orelse, why)
        else:
            self._report(arg, why)

    def visit_Compare(self, node: ast.Compare) -> None:
        self._mark_all(node)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key in node.keys:
            if key is not None:
                self._mark_all(key)
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self._mark_all(node.slice)
        self.generic_visit(node)

    def _docstring(self, body: list[ast.stmt]) -> None:
        if body and isinstance(body[0], ast.Expr) and _text(body[0].value) is not None:
            self._mark_all(body[0])

    def visit_Module(self, node: ast.Module) -> None:
        self._docstring(node.body)
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._docstring(node.body)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._docstring(node.body)
        self.generic_visit(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._docstring(node.body)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and SENTENCE.search(node.value):
            self._report(node, "sentence unmarked")

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        text = _text(node) or ""
        if SENTENCE.search(text):
            self._report(node, "sentence unmarked")
        self._mark_all(node)


def _files(targets: list[str]) -> Iterator[Path]:
    for target in targets:
        path = (ROOT / target) if not Path(target).is_absolute() else Path(target)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.py"))
        elif path.suffix == ".py":
            yield path


def scan(targets: list[str] | tuple[str, ...] = USER_FACING) -> list[Finding]:
    findings: list[Finding] = []
    for path in _files(list(targets)):
        source = path.read_text(encoding="utf-8")
        if "# i18n: ignore-file" in source:  # the file says why, next to the marker
            continue
        scanner = _Scan(str(path.relative_to(ROOT)), source.splitlines())
        scanner.visit(ast.parse(source))
        findings.extend(sorted(scanner.findings, key=lambda f: f.line))
    return findings


def main(argv: list[str]) -> int:
    findings = scan(argv or USER_FACING)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} unmarked", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
