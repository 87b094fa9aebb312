"""The shape of the code: the packages depend one way (eval -> serve -> models), and no module
imports itself back through others, counting imports inside functions too (an import moved
into a function to dodge a loop is still a loop)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"models": "khulasa.models", "serve": "khulasa.serve", "eval": "khulasa.eval"}
LAYER = {"models": 0, "serve": 1, "eval": 2}  # a package may import only lower layers


def module_name(path: Path) -> str:
    top, *rest = path.relative_to(ROOT).with_suffix("").parts
    return ".".join([PACKAGES[top], *(p for p in rest if p != "__init__")])


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for top in PACKAGES for p in (ROOT / top).rglob("*.py")}

    def known(name: str) -> str:
        while name not in modules and "." in name:
            name = name.rsplit(".", 1)[0]
        return name if name in modules else ""

    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {known(a.name) for a in node.names if a.name.startswith("khulasa.")}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                if base.startswith("khulasa."):
                    found |= {known(f"{base}.{a.name}") or known(base) for a in node.names}
        graph[name] = found - {name, ""}
    return graph


def test_our_own_imports_are_relative_so_tools_that_read_paths_see_them():
    # The folders are models/, serve/ and eval/, the packages khulasa.*: an import written
    # `from khulasa.models.text import ...` names no path in this tree; `from ..models.text`
    # does (serve/../models/text.py), for every tool that maps imports by file path.
    absolute = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for top in PACKAGES
        for path in (ROOT / top).rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if (isinstance(node, ast.ImportFrom) and not node.level and
            (node.module or "").startswith("khulasa"))
        or (isinstance(node, ast.Import) and any(a.name.startswith("khulasa") for a in node.names))
    ]  # fmt: skip
    assert not absolute, absolute


def test_packages_depend_one_way_eval_serve_models():
    wrong = [
        f"{m} imports {d}"
        for m, deps in import_graph().items()
        for d in deps
        if LAYER[d.split(".")[1]] > LAYER[m.split(".")[1]]
    ]
    assert not wrong, wrong


def test_no_module_imports_itself_back():
    graph = import_graph()
    loops = []
    for start in graph:  # a path from a module's imports back to it
        seen, todo = set(), list(graph[start])
        while todo:
            m = todo.pop()
            if m == start:
                loops.append(start)
                break
            if m not in seen:
                seen.add(m)
                todo += graph.get(m, ())
    assert not loops, f"modules in an import loop: {sorted(loops)}"


def test_the_graph_sees_the_imports_it_judges():
    graph = import_graph()  # the checks above would pass on an empty graph
    assert "khulasa.serve.service" in graph["khulasa.serve.web.page"]  # relative, one level up
    assert "khulasa.models.reading.article" in graph["khulasa.serve.cli"]  # across packages
    assert "khulasa.serve.batch.local" in graph["khulasa.eval.bench_engines"]  # in a function


def test_the_doors_html_comes_from_templates_not_strings():
    # What the page and the Coverage tab show is HTML from templates/ (Jinja2, autoescaped:
    # views.py); no string in the code builds markup, so no text can reach it unescaped.
    tag = re.compile(r"<(div|span|p|li|ul|ol|section|button|h[1-6]|a|table|tr|td|mark|strong)[\s>]")
    found = []
    for path in (ROOT / "serve").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docs = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and node.body and isinstance(node.body[0], ast.Expr)
        }  # fmt: skip
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docs and tag.search(node.value)
        ]  # fmt: skip
    assert not found, found
