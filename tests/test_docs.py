"""Every example in README.md and docs/*.md runs as written, and prints what it says.

Each ```python block of a file runs, in order, in one namespace per file (so a later
block may use what an earlier one defined, as a reader following the page would), in a
fresh temporary directory (examples may write files). A block meant as a fragment is
marked by the line ``<!-- skip: why -->`` just before its fence; keep those rare.

A top-level ``print(...)`` whose comment starts like a value (a digit, a sign, a bracket,
``True`` / ``False``) must print exactly that value: in ``print(y)  # 6.0 2.0 5.0`` the
text up to the first double space (``6.0 2.0 5.0``) is compared with the output, so a
stated result cannot drift from the code. Other comments are prose.

The quick-start commands are the ones CI runs (.ci/run).
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import io
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))

FENCE = re.compile(r"^```([\w+-]*)[ \t]*$")
SKIP = re.compile(r"^<!--\s*skip\s*:\s*\S.*-->\s*$")
VALUE_COMMENT = re.compile(r"#\s*([-+\d\[\(]|True\b|False\b|None\b)")


@dataclasses.dataclass
class Block:
    path: pathlib.Path
    line: int  # 1-based line of the block's first code line
    lang: str
    code: str
    skip: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: pathlib.Path) -> list[Block]:
    """The fenced code blocks of a markdown file, with their languages ("" when the
    fence names none) and skip marks."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start = i + 1
        end = start
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if end == len(lines):
            raise AssertionError(f"{path.name}:{i + 1}: unclosed ``` fence")
        prev = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
        out.append(Block(path, start + 1, m.group(1), "\n".join(lines[start:end]) + "\n",
                         bool(SKIP.match(prev.strip()))))
        i = end + 1
    return out


def _expected_output(stmt: ast.stmt, source_lines: list[str]) -> str | None:
    """The value a `print(...)  # value` statement promises, or None."""
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)
            and isinstance(stmt.value.func, ast.Name) and stmt.value.func.id == "print"):
        return None
    line = source_lines[stmt.end_lineno - 1]
    code_end = stmt.end_col_offset
    comment = line[code_end:].strip()
    if not VALUE_COMMENT.match(comment):
        return None
    return re.split(r"\s{2,}", comment[1:].strip())[0]


def run_block(block: Block, namespace: dict) -> int:
    """Run one block statement by statement; returns how many printed values it checked."""
    # pad with blank lines so tracebacks and errors show the markdown file's line numbers
    source = "\n" * (block.line - 1) + block.code
    tree = ast.parse(source, filename=str(block.path))
    lines = source.splitlines()
    checked = 0
    for stmt in tree.body:
        code = compile(ast.Module([stmt], type_ignores=[]), str(block.path), "exec")
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
        want = _expected_output(stmt, lines)
        if want is not None:
            got = out.getvalue().strip()
            assert got == want, (f"{block.path.name}:{stmt.lineno}: prints {got!r}, "
                                 f"the comment says {want!r}")
            checked += 1
    return checked


def _python_blocks(path: pathlib.Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang == "python"]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run_as_written(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"doc_{path.stem}"}
    ran = 0
    for block in _python_blocks(path):
        if block.skip:
            continue
        run_block(block, namespace)
        ran += 1
    assert ran > 0, f"{path.name}: no runnable ```python example"


def test_every_code_block_is_tagged_and_fragments_are_rare():
    """An untagged fence, or python spelled another way, would escape this test."""
    for path in DOCS:
        for b in blocks(path):
            assert b.lang and b.lang.lower() not in ("py", "python3", "pycon", "ipython"), (
                f"{b.where}: ```{b.lang} block; Python examples are ```python (run by "
                "this test), other blocks name their language (```sh, ```text)")
    skipped = [b.where for p in DOCS for b in _python_blocks(p) if b.skip]
    assert len(skipped) <= 2, f"too many examples marked as fragments: {skipped}"


def test_printed_values_are_checked(tmp_path, monkeypatch):
    """The README states results in comments; the checker must see (and so test) them."""
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "doc_readme"}
    counts = [run_block(b, namespace) for b in _python_blocks(ROOT / "README.md")]
    assert sum(counts) >= 4, counts


def test_a_wrong_printed_value_fails(tmp_path):
    md = tmp_path / "x.md"
    md.write_text("```python\nprint(1 + 1)  # 3\n```\n")
    (block,) = _python_blocks(md)
    with pytest.raises(AssertionError, match="prints '2', the comment says '3'"):
        run_block(block, {})
    md.write_text("```python\nx = 1 / 0\n```\n")
    (block,) = _python_blocks(md)
    with pytest.raises(ZeroDivisionError) as info:
        run_block(block, {})
    assert info.traceback[-1].lineno + 1 == 2  # the markdown file's line


def test_skip_marks_need_a_reason(tmp_path):
    md = tmp_path / "x.md"
    md.write_text("<!-- skip: a fragment -->\n```python\nundefined_name\n```\n"
                  "<!-- skip -->\n```python\nother\n```\n")
    a, b = _python_blocks(md)
    assert a.skip and not b.skip


def _sh_commands() -> list[str]:
    cmds = []
    for b in blocks(ROOT / "README.md"):
        if b.lang == "sh":
            cmds += [ln.strip() for ln in b.code.splitlines()
                     if ln.strip() and not ln.lstrip().startswith("#")]
    return cmds


def test_quick_start_commands_match_ci():
    """The README's set-up is the one CI runs on a fresh machine."""
    cmds = _sh_commands()
    ci = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()]
    for c in ["python3 -m venv .venv", ". .venv/bin/activate", 'pip install -e ".[dev]"',
              "pytest"]:
        assert c in cmds, f"README quick start lacks {c!r}: {cmds}"
        assert c in ci, f".ci/run lacks {c!r}"
    order = [cmds.index(c) for c in ["python3 -m venv .venv", ". .venv/bin/activate",
                                     'pip install -e ".[dev]"', "pytest"]]
    assert order == sorted(order), cmds


def test_quick_start_names_the_cpu_only_torch_build():
    # an optional step (it needs PyTorch's own index, which CI does not reach): the
    # README names it in the quick start
    text = (ROOT / "README.md").read_text()
    cpu = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"
    quick = text[text.index("## Quick start"):text.index("## A first example")]
    assert cpu in quick and "CUDA" in quick
    pin = re.search(r'"torch==([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin and pin.group(1) == "2.13.0", "README's torch pin differs from pyproject's"
