"""The import structure of the kit, read from its source with ``ast`` (nothing is imported):

- an import of a kit module stands at module level, never inside a function or class (where it would hide a
  circle);
- another import inside a function is there for import time: either a library that is plainly heavy (``HEAVY``)
  or one that says why with a ``# here: <why>`` comment on its line or the line above;
- the module-level imports among the kit's modules (package ``__init__`` re-exports included) form no circle.

Each failure names the file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KIT = ROOT / "kit"

# Libraries whose import alone costs about a tenth of a second or more (measured with
# ``python -X importtime -c "import numpy, X"``) or that load torch: an import of these inside a function needs no
# comment. A lighter library (yaml, PIL, the standard library) is imported at the top, or says why it is not.
HEAVY = frozenset({
    "torch", "torchvision", "safetensors", "accelerate", "open_clip", "transformers", "diffusers",  # torch
    "datasets", "pyarrow", "huggingface_hub",  # the Hub's stack
    "pandas", "scipy", "sklearn",
    "matplotlib", "seaborn",
    "papermill", "nbformat", "jupyter_client", "traitlets", "submitit", "tqdm",
    "sae_lens", "dictionary_learning", "overcomplete",  # other SAE libraries
})


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in sorted(KIT.rglob("*.py"))}
PACKAGES = {_name(p) for p in KIT.rglob("__init__.py")}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imports(tree: ast.Module):
    """Yield ``(node, inner)`` for every import statement; ``inner``: inside a function or class body."""
    def walk(node, inner):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, inner
            yield from walk(child, inner or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                                 ast.Lambda, ast.ClassDef)))
    yield from walk(tree, False)


def _absolute(node: ast.ImportFrom, module: str) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base[: len(base) - node.level + (module in PACKAGES)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(node, module: str) -> list[str]:
    """The modules an import statement names (``from kit.x import y`` → ``kit.x.y`` when that is a module)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    source = _absolute(node, module)
    subs = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in MODULES]
    named = [a.name for a in node.names if f"{source}.{a.name}" not in MODULES]
    return subs + ([source] if named or not subs else [])


def _is_kit(name: str) -> bool:
    return name == "kit" or name.startswith("kit.")


def _dynamic_kit_imports(tree: ast.Module):
    """``importlib.import_module("kit…")`` / ``__import__("kit…")`` calls: an import of the kit by name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            f = node.func
            called = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if called in ("import_module", "__import__") and _is_kit(str(node.args[0].value)):
                yield node


def _where(path: Path, node) -> str:
    return f"{path.relative_to(ROOT)}:{node.lineno}"


def graph() -> dict[str, dict[str, str]]:
    """module → {imported kit module: where}, from module-level imports only."""
    edges: dict[str, dict[str, str]] = {}
    for module, path in MODULES.items():
        out = edges.setdefault(module, {})
        for node, inner in _imports(_tree(path)):
            if inner:
                continue
            for target in _targets(node, module):
                while target not in MODULES and "." in target:  # ``import kit.x.Name`` is not a module
                    target = target.rsplit(".", 1)[0]
                if _is_kit(target) and target in MODULES and target != module:
                    out.setdefault(target, _where(path, node))
    return edges


def circles(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found = []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_the_reader_sees_every_module_and_its_imports():
    edges = graph()
    assert {"kit", "kit.sae", "kit.sae.train", "kit.embed.cache", "kit.data"} <= set(MODULES)
    assert "kit.sae.checkpoint" in edges["kit.sae.train"]  # ``from kit.sae.checkpoint import …``
    assert "kit.sae.train" in edges["kit.sae"]  # a package's re-exports
    assert "kit.errors" in edges["kit.io"]


def test_the_circle_finder_finds_circles():
    assert circles({"a": {"b": ""}, "b": {"c": ""}, "c": {"a": ""}, "d": {"a": ""}}) == [["a", "b", "c"]]
    assert circles({"a": {"b": ""}, "b": {}, "c": {"a": "", "b": ""}}) == []


def test_no_kit_import_inside_a_function():
    bad = []
    for module, path in MODULES.items():
        tree = _tree(path)
        for node, inner in _imports(tree):
            if inner and any(_is_kit(t) for t in _targets(node, module)):
                bad.append(_where(path, node))
        bad += [f"{_where(path, node)} (by name)" for node in _dynamic_kit_imports(tree)]
    assert not bad, "kit modules imported inside a function (move them to the top):\n" + "\n".join(bad)


def test_inner_imports_are_heavy_or_say_why():
    bad = []
    for module, path in MODULES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node, inner in _imports(_tree(path)):
            names = [t for t in _targets(node, module) if not _is_kit(t)]
            if not inner or not names or all(t.split(".")[0] in HEAVY for t in names):
                continue
            said = any("# here:" in lines[i] for i in (node.lineno - 1, node.lineno - 2) if i >= 0)
            if not said:
                bad.append(f"{_where(path, node)}: {lines[node.lineno - 1].strip()}")
    assert not bad, ("imports inside a function that are neither heavy nor explained by a '# here: <why>' "
                     "comment (move them to the top):\n" + "\n".join(bad))


def test_no_import_circle():
    edges = graph()
    found = circles(edges)
    report = []
    for comp in found:
        inside = set(comp)
        report.append(" ↔ ".join(comp))
        report += [f"    {a} → {b} ({where})" for a in comp for b, where in sorted(edges[a].items())
                   if b in inside]
    assert not found, "import circles among the kit's modules:\n" + "\n".join(report)


@pytest.mark.parametrize("module", ["kit", "kit.types", "kit.results", "kit.tapas", "kit.matching"])
def test_light_modules_stand_on_no_heavy_module(module):
    """Modules that work on arrays alone reach no module-level import of torch (read from the graph)."""
    edges = graph()
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += list(edges[m])
    heavy = []
    for m in sorted(seen):
        for node, inner in _imports(_tree(MODULES[m])):
            if not inner and any(t.split(".")[0] == "torch" for t in _targets(node, m)):
                heavy.append(f"{m} ({_where(MODULES[m], node)})")
    assert not heavy, f"{module} imports torch at module level through: {heavy}"


def test_only_kit_io_hashes():
    """Every cache key and fingerprint is ``kit.io.content_hash`` (or ``kit.io.file_sha256``): no other module
    hashes by hand."""
    bad = [_where(path, node) for module, path in MODULES.items() if module != "kit.io"
           for node, _ in _imports(_tree(path)) if "hashlib" in _targets(node, module)]
    assert not bad, "hashlib outside kit.io (use kit.io.content_hash or file_sha256):\n" + "\n".join(bad)
