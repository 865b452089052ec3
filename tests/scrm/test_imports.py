"""The import rules of docs/architecture.md, checked on the source (stdlib ``ast``, no import run):

* no import cycle among the project's modules at module level;
* an import made inside a function names a project module only with a comment saying why
  (a real cycle across apps, or the app registry in ``AppConfig.ready``);
* the layers point one way: contacts ← analytics ← channels ← campaigns;
* every task name the code enqueues (``enqueue("…")``, ``enqueue_on_commit("…")``) is a registered task.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("scrm", "contacts", "analytics", "channels", "campaigns")
LAYER = {"contacts": 0, "analytics": 1, "channels": 2, "campaigns": 3}
WHY = re.compile(r"#.*\b(cycle|circle|app registry|AppConfig|apps are loaded|import here|imported here)\b", re.I)


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    in_function: bool
    justified: bool


def _modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _justified(lines: list[str], lineno: int) -> bool:
    """A comment on the import line, or above it in the same run of imports and comments, says why."""
    if WHY.search(lines[lineno - 1]):
        return True
    index = lineno - 2
    while index >= 0 and lines[index].strip().startswith(("#", "from ", "import ")):
        if WHY.search(lines[index]):
            return True
        index -= 1
    return False


def _edges() -> list[Edge]:
    modules = _modules()
    edges: list[Edge] = []
    for module, path in modules.items():
        source = path.read_text()
        lines = source.splitlines()

        def visit(node: ast.AST, in_function: bool, module: str = module, lines: list[str] = lines) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                    continue  # annotations only: never executed
                nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                if isinstance(child, ast.Import | ast.ImportFrom):
                    if isinstance(child, ast.ImportFrom):
                        base = child.module or ""
                        if child.level:
                            base = ".".join([*module.split(".")[: -child.level], *([base] if base else [])])
                        names = [f"{base}.{alias.name}" for alias in child.names] + [base]
                    else:
                        names = [alias.name for alias in child.names]
                    targets = {_resolve(name, modules) for name in names} - {None, module}
                    for target in targets:
                        assert target is not None
                        if any(other != target and other.startswith(target + ".") for other in targets):
                            continue  # `from pkg import mod`: the edge is to pkg.mod
                        edges.append(
                            Edge(module, target, child.lineno, in_function, _justified(lines, child.lineno))
                        )
                visit(child, nested)

        visit(ast.parse(source), False)
    return edges


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in list(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_import_cycle_at_module_level() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for edge in _edges():
        if not edge.in_function:
            graph[edge.source].add(edge.target)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_imports_inside_functions_say_why() -> None:
    unexplained = [
        f"{e.source}:{e.line} imports {e.target}" for e in _edges() if e.in_function and not e.justified
    ]
    assert unexplained == []


def test_layers_point_one_way() -> None:
    upward = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in _edges()
        if e.source.split(".")[0] in LAYER
        and e.target.split(".")[0] in LAYER
        and LAYER[e.target.split(".")[0]] > LAYER[e.source.split(".")[0]]
    ]
    assert upward == []


def test_every_enqueued_task_name_is_registered() -> None:
    from scrm.celery import app

    app.loader.import_default_modules()  # what a worker does when it starts

    names = set()
    for path in _modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("enqueue", "enqueue_on_commit")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(node.args[0].value)
    assert names, "no enqueue() call found: the check would pass vacuously"
    assert sorted(name for name in names if name not in app.tasks) == []
    # A fresh process (as a web server is) finds every one too, not only a test run that happens to
    # have imported the tasks modules already.
    script = (
        "import django, sys; django.setup(); from scrm.celery import registered_task\n"
        "for name in sys.argv[1:]: registered_task(name)\n"
        "print('ok')"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "scrm.settings_test"}
    result = subprocess.run(
        [sys.executable, "-c", script, *sorted(names)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr[-2000:]
