"""The README's examples run as written, and its quick start names the real commands."""

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(_python_blocks()) >= 3


def test_readme_examples_run():
    for i, block in enumerate(_python_blocks()):
        namespace = {"__name__": f"readme_block_{i}"}
        exec(compile(block, f"README.md block {i}", "exec"), namespace)


def test_quick_start_commands_match_ci():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    assert 'pip install -e ".[dev]"' in text and 'pip install -e ".[dev]"' in ci
    assert "\n    pytest\n" in text and "\npytest\n" in ci
