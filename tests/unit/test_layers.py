"""The import graph keeps the layers: the engine defines its ports and imports no adapter, and no two
parts of the package import each other (directly or around a cycle).

Every ``import`` in a module counts, at module level or inside a function, except those under
``if TYPE_CHECKING:`` (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "liqkit"

# the parts of the package, as the architecture names them (a module's part: its first name under liqkit)
CORE = {"domain", "quoting", "risk", "preflight", "rateplan", "engine"}
ADAPTERS_AND_ABOVE = {
    "venues",
    "journal",
    "data",
    "backtest",
    "research",
    "service",
    "client",
    "ui",
    "cli",
    "dashboard",
}


def part(module: str) -> str:
    """``liqkit.engine.core`` -> ``engine``; ``liqkit`` itself -> ``liqkit``."""
    bits = module.split(".")
    return bits[1] if len(bits) > 1 else "liqkit"


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    names = list(rel.parts)
    if names[-1] == "__init__":
        names.pop()
    return ".".join(names)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                for n in ast.walk(sub):
                    if hasattr(n, "lineno"):
                        lines.add(n.lineno)
    return lines


def imports() -> dict[str, set[str]]:
    """Module -> the liqkit modules it imports."""
    graph: dict[str, set[str]] = {}
    for path in PKG.rglob("*.py"):
        mod = module_name(path)
        tree = ast.parse(path.read_text(), str(path))
        skip = _type_checking_lines(tree)
        pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        out: set[str] = set()
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                out |= {a.name for a in node.names if a.name.startswith("liqkit")}
            elif isinstance(node, ast.ImportFrom):
                if node.level:  # relative
                    base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                if target.startswith("liqkit"):
                    out.add(target)
        graph[mod] = out
    return graph


def test_the_graph_is_read():
    g = imports()
    assert "liqkit.engine.runner" in g and "liqkit.engine.execution" in g["liqkit.engine.runner"]
    assert any(t.startswith("liqkit.engine.ports") for t in g["liqkit.venues.binance"])


def test_domain_quoting_risk_and_engine_import_no_adapter_nor_anything_above():
    bad = [
        f"{mod} imports {t}"
        for mod, targets in imports().items()
        if part(mod) in CORE
        for t in targets
        if part(t) in ADAPTERS_AND_ABOVE
    ]
    assert bad == []


def test_the_domain_imports_only_the_domain():
    bad = [
        f"{mod} imports {t}"
        for mod, targets in imports().items()
        if part(mod) == "domain"
        for t in targets
        if part(t) not in ("domain", "liqkit")
    ]
    assert bad == []


def test_no_two_parts_of_the_package_import_each_other():
    """Strongly connected parts (Tarjan) of the part-level graph: every one must be a single part."""
    edges: dict[str, set[str]] = {}
    for mod, targets in imports().items():
        a = part(mod)
        for t in targets:
            b = part(t)
            if a != b and "liqkit" not in (a, b):
                edges.setdefault(a, set()).add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[set[str]] = []

    def visit(v: str) -> None:
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
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(comp)

    for v in list(edges):
        if v not in index:
            visit(v)
    assert cycles == [], {frozenset(c): sorted((a, b) for a in c for b in edges.get(a, ()) if b in c) for c in cycles}
