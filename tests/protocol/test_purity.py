"""protocol/ is pure: it loads no web framework, broker, database, I/O loop or sibling layer."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = ROOT / "protocol"

MODULES = [
    "protocol.codes",
    "protocol.frames",
    "protocol.events",
    "protocol.encoding",
    "protocol.commands",
    "protocol.validation",
    "protocol.errors",
    "protocol.states",
]
FORBIDDEN = [
    "starlette",
    "redis",
    "uvicorn",
    "websockets",
    "asyncpg",
    "asyncio",
    "gateway",
    "storage",
]

#: What protocol/ may import: the standard library's pure parts and the three codec libraries.
ALLOWED_IMPORTS = {
    "__future__",
    "collections",
    "dataclasses",
    # As a type (commands take timestamps); test_protocol_never_reads_the_clock checks that
    # nothing calls now().
    "datetime",
    "enum",
    "re",
    "types",
    "typing",
    "uuid",
    "msgpack",
    "msgspec",
    "orjson",
    "protocol",
}

_PROBE = """
import importlib, json, sys
modules, forbidden = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
for name in modules:
    importlib.import_module(name)
print(json.dumps({
    "imported": [name for name in modules if name in sys.modules],
    "forbidden": sorted(m for m in sys.modules if m.split(".")[0] in forbidden),
}))
"""


def test_protocol_imports_load_no_outer_layer():
    """Importing every protocol module in a fresh interpreter loads none of the outer layers."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(MODULES), json.dumps(FORBIDDEN)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["imported"] == MODULES
    assert report["forbidden"] == []


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports"
            roots.add((node.module or "").split(".")[0])
    return roots


def test_protocol_source_imports_only_pure_modules():
    """No protocol module imports a clock, socket, I/O loop or anything outside the allow-list."""
    sources = sorted(PROTOCOL.glob("*.py"))
    assert len(sources) >= len(MODULES) + 1
    for path in sources:
        extra = _imported_roots(path) - ALLOWED_IMPORTS
        assert not extra, f"{path.name} imports {sorted(extra)}"


def test_protocol_never_reads_the_clock():
    """datetime is imported as a type only: no protocol module reads the time."""
    for path in sorted(PROTOCOL.glob("*.py")):
        text = path.read_text()
        for call in ("now(", "utcnow(", "today(", "time.time("):
            assert call not in text, f"{path.name} calls {call}"
