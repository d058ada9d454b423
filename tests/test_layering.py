"""The package's structure, read from the source: layers import only from below, no module
imports another module's private name, and no import cycle exists (counting imports made inside
functions, which only hide a cycle until the function runs)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "scalefit"

#: layers, lowest first; a module belongs to the layer of its longest matching prefix
LAYERS = [
    ("core", ["scalefit.errors", "scalefit.params", "scalefit._config", "scalefit._files", "scalefit._solver",
              "scalefit._roots", "scalefit._names", "scalefit._result", "scalefit._extrapolation", "scalefit._cliargs", "scalefit._threads", "scalefit.examples"]),
    ("laws", ["scalefit.laws", "scalefit.allocation"]),
    ("io", ["scalefit.io"]),
    ("fit", ["scalefit.fit"]),
    ("sampling", ["scalefit.sampling"]),
    ("bayes", ["scalefit.bayes"]),
    ("chain", ["scalefit.chain"]),
    ("plots", ["scalefit.plots"]),
    ("report", ["scalefit.report"]),
    ("cli", ["scalefit.cli", "scalefit.chain_cli", "scalefit.demo", "scalefit.__main__", "scalefit.sampling.cli",
             "scalefit.bayes.cli", "scalefit.report.cli"]),
]

#: upward imports that are part of the design, each with its reason
ALLOWED_UPWARD = {
    # the result protocol's plot(): every result draws itself with the display layer, loaded only then
    ("scalefit._result", "scalefit.plots"),
}


def _modules() -> dict[str, tuple[Path, bool]]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = list(f.relative_to(ROOT.parent).with_suffix("").parts)
        pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if pkg else parts)] = (f, pkg)
    return out


MODULES = _modules()


def _imports(mod: str):
    """(line, target module, imported name or None) for every scalefit import in ``mod``."""
    f, pkg = MODULES[mod]
    base = mod.split(".") if pkg else mod.split(".")[:-1]
    for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                tgt = ".".join(base[: len(base) - (node.level - 1)] + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "scalefit":
                tgt = node.module
            else:
                continue
            for alias in node.names:
                sub = f"{tgt}.{alias.name}"
                yield node.lineno, (sub if sub in MODULES else tgt), (None if sub in MODULES else alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "scalefit":
                    yield node.lineno, alias.name, None


def _layer(mod: str) -> int | None:
    if mod == "scalefit":  # the package's lazy re-exports of the public API: the top
        return len(LAYERS) - 1
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (mod == p or mod.startswith(p + ".")) and (best is None or len(p) > best[1]):
                best = (i, len(p))
    return None if best is None else best[0]


def test_every_module_has_a_layer():
    assert [m for m in MODULES if _layer(m) is None] == []


def test_layers_import_only_from_below():
    bad = []
    for mod in MODULES:
        for line, tgt, _ in _imports(mod):
            if tgt == "scalefit":  # the package root (its version) runs before any submodule anyway
                continue
            lt, lm = _layer(tgt), _layer(mod)
            if lt is not None and lt > lm and not any(mod.startswith(a) and tgt.startswith(b) for a, b in ALLOWED_UPWARD):
                bad.append(f"{mod}:{line} ({LAYERS[lm][0]}) imports {tgt} ({LAYERS[lt][0]})")
    assert bad == [], "\n".join(bad)


def test_no_module_imports_another_modules_private_name():
    bad = [f"{mod}:{line} imports {name} from {tgt}"
           for mod in MODULES for line, tgt, name in _imports(mod)
           if name is not None and name.startswith("_") and not name.startswith("__") and tgt != mod]
    assert bad == [], "\n".join(bad)


def test_no_import_cycles():
    graph = {m: set() for m in MODULES}
    for mod in MODULES:
        for _, tgt, _ in _imports(mod):
            # importing a submodule runs its parent packages first: those edges are not cycles
            if tgt in MODULES and tgt != mod and not mod.startswith(tgt + "."):
                graph[mod].add(tgt)
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    detail = "\n".join(f"{c}: " + "; ".join(f"{a} -> {sorted(graph[a] & set(c))}" for a in c) for c in cycles)
    assert cycles == [], detail
