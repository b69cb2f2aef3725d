"""gg.to_dot / gg.draw: eager graphs, shared subgraphs, compiled graphs, escaping, rendering."""

from __future__ import annotations

import pathlib
import re
import shutil
import sys
import types

import numpy as np
import pytest

import graphgrad as gg

_NODE = re.compile(r'^\s*(n\d+) \[shape=(box|ellipse), .*?label="((?:[^"\\]|\\.)*)"(.*)\];$')
_EDGE = re.compile(r'^\s*(n\d+) -> (n\d+)(?: \[(.*)\])?;$')


def _unescape(label: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), label)


def _parse(dot: str):
    """(nodes: id -> (shape, label lines, extra attrs), edges: [(src, dst, attrs)])."""
    lines = dot.splitlines()
    assert lines[0].startswith("digraph ") and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        m = _NODE.match(line)
        if m:
            nodes[m.group(1)] = (m.group(2), _unescape(m.group(3)).split("\n"), m.group(4))
            continue
        m = _EDGE.match(line)
        if m:
            edges.append((m.group(1), m.group(2), m.group(3) or ""))
            continue
        assert line.strip().startswith(("graph [", "node [", "edge [")), line
    return nodes, edges


def _ops(nodes):
    return {k: v[1] for k, v in nodes.items() if v[0] == "box"}


def _leaves(nodes):
    return {k: v[1] for k, v in nodes.items() if v[0] == "ellipse"}


def _seed():
    a = gg.Tensor(2.0, requires_grad=True, name="a")
    b = gg.Tensor(1.0, requires_grad=True, name="b")
    return a, b, (a + b) * (b + 1)


# ----------------------------------------------------------------- eager graphs ----

def test_seed_graph_has_three_ops_two_leaves_and_the_right_edges():
    a, b, e = _seed()
    nodes, edges = _parse(gg.to_dot(e))
    ops, leaves = _ops(nodes), _leaves(nodes)
    assert len(ops) == 3 and len(leaves) == 2
    by_name = {lines[0]: k for k, lines in leaves.items()}
    assert set(by_name) == {"a", "b"}
    assert all("requires_grad" in lines and "() float32" in lines for lines in leaves.values())
    (mul,) = [k for k, lines in ops.items() if lines[0] == "mul"]
    adds = [k for k, lines in ops.items() if lines[0] == "add"]
    assert len(adds) == 2
    # the user's line is in every op's label
    assert all(any(line.startswith("test_draw.py:") for line in lines) for lines in ops.values())
    a_plus_b = next(k for k in adds if "arg1 = 1" not in ops[k])
    b_plus_1 = next(k for k in adds if "arg1 = 1" in ops[k])
    assert sorted(edges) == sorted([
        (by_name["a"], a_plus_b, 'label="0"'), (by_name["b"], a_plus_b, 'label="1"'),
        (by_name["b"], b_plus_1, ""),
        (a_plus_b, mul, 'label="0"'), (b_plus_1, mul, 'label="1"'),
    ])
    assert "peripheries=2" in nodes[mul][2]  # the tensor drawn is marked


def test_x_times_x_draws_two_edges_from_x():
    x = gg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    nodes, edges = _parse(gg.to_dot(x * x))
    assert len(_ops(nodes)) == 1 and len(_leaves(nodes)) == 1
    assert sorted(attrs for _, _, attrs in edges) == ['label="0"', 'label="1"']
    assert len({(s, d) for s, d, _ in edges}) == 1


def test_shared_subgraph_is_drawn_once_for_a_list_of_tensors():
    a = gg.tensor([1.0, 2.0], requires_grad=True)
    s = gg.exp(a)
    u, v = s + 1, s * 2
    nodes, edges = _parse(gg.to_dot([u, v]))
    ops = _ops(nodes)
    exps = [k for k, lines in ops.items() if lines[0] == "exp"]
    assert len(exps) == 1 and len(ops) == 3 and len(_leaves(nodes)) == 1
    assert sum(1 for src, _, _ in edges if src == exps[0]) == 2
    assert sum("peripheries=2" in n[2] for n in nodes.values()) == 2  # both outputs
    assert gg.to_dot((u, v)) == gg.to_dot([u, v])


def test_leaf_without_grad_and_graph_freed_by_backward():
    a = gg.tensor(3.0, requires_grad=True)
    c = gg.tensor([1, 2])
    nodes, _ = _parse(gg.to_dot(c))
    (lines,) = _leaves(nodes).values()
    assert lines[:2] == ["leaf", "(2,) int64"] and "requires_grad" not in lines
    e = gg.exp(a) * a
    e.backward()
    nodes, edges = _parse(gg.to_dot(e))
    assert edges == [] and "(graph freed)" in _ops(nodes)["n0"]


def test_params_and_show_values():
    x = gg.Tensor([[1.5, 2.0]], name="x", requires_grad=True)
    plain = gg.to_dot(gg.sum(x, axis=1))
    assert "axis=(1,)" in plain and "1.5" not in plain
    shown = gg.to_dot(gg.sum(x, axis=1), show_values=True)
    nodes, _ = _parse(shown)
    assert "[[1.5, 2. ]]" in _leaves(nodes)["n0"]
    assert "[3.5]" in _ops(nodes)["n1"]


def test_output_is_deterministic():
    first = gg.to_dot(_seed()[2])
    assert first == gg.to_dot(_seed()[2])  # fresh tensors, same graph: same text
    _, _, e = _seed()
    assert gg.to_dot(e) == gg.to_dot(e)
    ids = [int(m.group(1)[1:]) for m in map(_NODE.match, first.splitlines()) if m]
    assert ids == list(range(len(ids)))


def test_labels_are_escaped():
    name = 'say "hi" \\ {x} <y>\nline two'
    x = gg.Tensor(1.0, requires_grad=True, name=name)
    dot = gg.to_dot(gg.exp(x))
    assert 'say \\"hi\\" \\\\ {x} <y>\\nline two' in dot
    nodes, _ = _parse(dot)  # every label is one well-formed quoted string
    assert "\n".join(_leaves(nodes)["n0"][:2]) == name


def test_hundred_thousand_op_chain_has_no_recursion_limit():
    x = gg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1
    dot = gg.to_dot(y)
    assert dot.count("shape=box") == 100_000 and dot.count("shape=ellipse") == 1
    assert dot.count(" -> ") == 100_000


def test_rejects_other_objects():
    with pytest.raises(TypeError, match="expected a Tensor"):
        gg.to_dot(3.0)
    with pytest.raises(TypeError, match="tensors only"):
        gg.to_dot([gg.tensor(1.0), "x"])


def test_static_graph_tensors_draw_too():
    sf = gg.static
    with sf.Graph().as_default():
        x = sf.placeholder(shape=(3,), name="x")
        w = sf.Variable(gg.ones(3), name="w")
        y = sf.reduce_sum(x * w)
    nodes, edges = _parse(gg.to_dot(y))
    assert {lines[0] for lines in _leaves(nodes).values()} == {"x", "w"}
    assert [lines[0] for lines in _ops(nodes).values()] == ["mul", "sum"]
    assert len(edges) == 3


# -------------------------------------------------------------- compiled graphs ----

def _compiled_mlp():
    rng = np.random.default_rng(0)
    W1 = gg.tensor(rng.standard_normal((4, 8)).astype(np.float32), requires_grad=True)
    b1 = gg.zeros(8, requires_grad=True)
    W2 = gg.tensor(rng.standard_normal((8, 3)).astype(np.float32), requires_grad=True)

    @gg.compile
    def step(x, y):
        W1.grad = b1.grad = W2.grad = None
        h = gg.relu(x @ W1 + b1)
        loss = gg.cross_entropy(h @ W2, y)
        loss.backward()
        with gg.no_grad():
            for p in (W1, b1, W2):
                p.sub_(0.1 * p.grad)
        return loss

    x = gg.tensor(rng.standard_normal((5, 4)).astype(np.float32))
    y = gg.tensor(rng.integers(0, 3, 5))
    return step, x, y


def test_compiled_mlp_step_graph():
    step, x, y = _compiled_mlp()
    with pytest.raises(RuntimeError, match="call the function once"):
        gg.to_dot(step)
    step(x, y)
    dot = gg.to_dot(step.graph)
    assert dot.startswith('digraph "step" {')
    assert gg.to_dot(step) == dot
    nodes, edges = _parse(dot)
    ops, leaves = _ops(nodes), _leaves(nodes)
    prims = [lines[0].split(" = ")[-1] for lines in ops.values()]
    for p in ("matmul", "relu", "cross_entropy", "sub"):
        assert p in prims
    names = {lines[0]: lines for lines in leaves.values()}
    assert names["x"][1:3] == ["(5, 4) float32", "input 0"]
    assert names["y"][1:3] == ["(5,) int64", "input 1"]
    for p in ("W1", "b1", "W2"):
        assert "param" in names[p] and "requires_grad" in names[p]
    backward = [lines for lines in ops.values() if any(s.startswith("backward") for s in lines)]
    assert len(backward) >= 5
    assert {"dW1 = matmul", "db1 = sum", "dW2 = matmul"} <= {lines[0] for lines in backward}
    assert sum(1 for lines in ops.values() if "update" in lines) == 6
    (loss,) = [k for k, lines in ops.items() if lines[0] == "loss = cross_entropy"]
    assert 'xlabel="output 0"' in nodes[loss][2]
    writes = [e for e in edges if 'label="write"' in e[2]]
    grads = [e for e in edges if 'label=".grad"' in e[2]]
    assert len(writes) == 3 and len(grads) == 3
    leaf_of = {lines[0]: k for k, lines in leaves.items()}
    assert {d for _, d, _ in writes} == {leaf_of["W1"], leaf_of["b1"], leaf_of["W2"]}
    assert gg.to_dot(step.graph) == dot  # deterministic


# --------------------------------------------------------------------- drawing ----

@pytest.fixture
def no_graphviz(monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # `import graphviz` raises


def test_draw_to_dot_file_needs_no_graphviz(tmp_path, no_graphviz):
    _, _, e = _seed()
    path = gg.draw(e, tmp_path / "g.dot")
    assert path == str(tmp_path / "g.dot")
    assert pathlib.Path(path).read_text() == gg.to_dot(e)
    assert gg.draw(e, tmp_path / "h", format="dot") == str(tmp_path / "h.dot")
    assert (tmp_path / "h.dot").read_text() == gg.to_dot(e)
    assert gg.draw(e, format="dot") == gg.to_dot(e)


def test_draw_svg_without_graphviz_names_the_install(tmp_path, no_graphviz):
    _, _, e = _seed()
    with pytest.raises(ImportError, match="pip install graphviz"):
        gg.draw(e, tmp_path / "g.svg")
    with pytest.raises(ImportError, match="apt install graphviz"):
        gg.draw(e)
    assert not (tmp_path / "g.svg").exists()


def _fake_graphviz(result=None, missing_dot=False):
    mod = types.ModuleType("graphviz")
    calls = []

    class ExecutableNotFound(RuntimeError):
        pass

    class Source:
        def __init__(self, source):
            self.source = source

        def pipe(self, format):  # noqa: A002
            calls.append((self.source, format))
            if missing_dot:
                raise ExecutableNotFound("failed to execute 'dot'")
            return result

    mod.Source, mod.ExecutableNotFound = Source, ExecutableNotFound
    return mod, calls


def test_draw_renders_through_the_graphviz_package(tmp_path, monkeypatch):
    mod, calls = _fake_graphviz(result=b"<svg>fake</svg>")
    monkeypatch.setitem(sys.modules, "graphviz", mod)
    _, _, e = _seed()
    assert gg.draw(e, tmp_path / "g.png") == str(tmp_path / "g.png")
    assert (tmp_path / "g.png").read_bytes() == b"<svg>fake</svg>"
    assert calls == [(gg.to_dot(e), "png")]
    assert gg.draw(e, tmp_path / "g") == str(tmp_path / "g.svg")  # default format appended
    assert gg.draw(e) == "<svg>fake</svg>"  # svg in memory: text
    assert gg.draw(e, format="pdf") == b"<svg>fake</svg>"  # other formats: bytes
    assert [f for _, f in calls] == ["png", "svg", "svg", "pdf"]


def test_draw_without_the_dot_program_names_the_install(tmp_path, monkeypatch):
    mod, _ = _fake_graphviz(missing_dot=True)
    monkeypatch.setitem(sys.modules, "graphviz", mod)
    _, _, e = _seed()
    with pytest.raises(ImportError, match="'dot' program"):
        gg.draw(e, tmp_path / "g.svg")


def test_draw_svg_with_real_graphviz(tmp_path):
    pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's dot program is not installed")
    step, x, y = _compiled_mlp()
    step(x, y)
    path = gg.draw(step, tmp_path / "step.svg")
    head = pathlib.Path(path).read_text()[:200].lstrip()
    assert head.startswith(("<?xml", "<svg"))


def test_docs_example_runs(tmp_path, monkeypatch, no_graphviz):
    doc = pathlib.Path(__file__).resolve().parents[1] / "docs" / "draw.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/draw.md block {i}", "exec"), {"__name__": f"draw_doc_{i}"})
    assert (tmp_path / "graph.dot").read_text().startswith("digraph")
