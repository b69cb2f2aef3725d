"""The folder layout is the architecture: check the rules it promises."""

import ast
import pathlib
import subprocess
import sys

import graphgrad as gg

PKG = pathlib.Path(gg.__file__).parent


def _imports(path: pathlib.Path) -> set:
    """Absolute names of the graphgrad modules a file imports (relative ones resolved)."""
    tree = ast.parse(path.read_text())
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            for alias in node.names:
                out.add(f"{mod}.{alias.name}")
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.startswith("graphgrad")}


def test_core_imports_nothing_above_it():
    # core is the bottom row: it may use ops (the primitive table it evaluates) but
    # never the compiler, the static API, drawing, or anything built on top
    above = ("graphgrad.compiler", "graphgrad.static", "graphgrad.draw", "graphgrad.nn",
             "graphgrad.optim", "graphgrad.data", "graphgrad.explain", "graphgrad.cli",
             "graphgrad.testing")
    bad = {}
    for f in (PKG / "core").glob("*.py"):
        hits = sorted(m for m in _imports(f) if m.startswith(above))
        if hits:
            bad[f.name] = hits
    assert bad == {}


def test_ops_do_not_import_the_compiler_or_static():
    for f in (PKG / "ops").glob("*.py"):
        hits = [m for m in _imports(f) if m.startswith(("graphgrad.compiler", "graphgrad.static"))]
        assert hits == [], f.name


def test_import_graphgrad_compiler_is_the_module_and_gg_compile_the_function():
    import graphgrad.compiler as c
    assert hasattr(c, "Compiled") and callable(gg.compile)
    assert gg.compile is c.compile and not hasattr(gg.compile, "Compiled")


def test_importing_graphgrad_pulls_in_numpy_only():
    code = ("import sys; import graphgrad; "
            "heavy = [m for m in ('torch', 'scipy', 'matplotlib', 'graphviz', 'tqdm', "
            "'sklearn', 'mpi4py', 'hypothesis', 'pytest') if m in sys.modules]; "
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PKG.parent)
    assert out.stdout.strip() == "[]"
