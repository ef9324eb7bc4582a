"""The house rules that a linter does not check: no import circles between files (imports
under TYPE_CHECKING included), no TYPE_CHECKING imports at all, every document the code cites is
in the repository. The layers themselves are import-linter's contracts (pyproject.toml)."""

from __future__ import annotations

import re
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "wizard").rglob("*.py"))


def test_no_import_circle_between_files():
    graph = grimp.build_graph("wizard", exclude_type_checking_imports=False)
    circles = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.find_shortest_chain(importer=imported, imported=module):
                circles.add(tuple(sorted((module, imported))))
    assert circles == set()


def test_no_type_checking_imports():
    """Types come from the module that defines them (the session module for the pages), so no
    import has to hide from the interpreter."""
    users = [p.relative_to(ROOT) for p in SOURCES if "TYPE_CHECKING" in p.read_text()]
    assert users == []


def test_pages_and_the_wizard_do_not_import_each_other():
    imports_wizard = re.compile(r"^\s*(from|import) wizard\.ui\.wizard\b", re.M)
    for page in (ROOT / "wizard" / "ui" / "pages").glob("*.py"):
        assert not imports_wizard.search(page.read_text()), page.name


DOC = re.compile(r"\b([A-Z][A-Z-]+\.md)\b")


def test_every_cited_document_is_in_the_repository():
    cited = {}
    for path in [*SOURCES, *sorted((ROOT / "tests").glob("*.py")), *(ROOT / "docs").glob("*.md")]:
        for name in DOC.findall(path.read_text(encoding="utf-8")):
            cited.setdefault(name, path.relative_to(ROOT))
    missing = {
        name: str(where)
        for name, where in cited.items()
        if not any((ROOT / folder / name).exists() for folder in ("docs", ".", "bench"))
    }
    assert missing == {}
    assert not [
        p for p in SOURCES if "shared/spec" in p.read_text() or "../shared" in p.read_text()
    ]
