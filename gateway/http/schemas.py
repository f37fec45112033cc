"""JSON Schema for the documents the gateway serves (``/openapi.json``, ``/asyncapi.json``),
generated from the types that validate requests and render answers, so that a document
states what the code does.

msgspec writes the schema of each type; ``SchemaSet`` adds what msgspec cannot know:

- **What a request may hold** (``requests``): no string or key anywhere in a body holds
  U+0000 (``protocol.bounds``), fields the schema does not name are ignored but are JSON
  like the rest, and a class's cross-field rules (its ``schema_rules``, written next to the
  ``__post_init__`` that enforces them) are added to its schema.
- **What an answer holds** (``answers``): every field is always present, and timestamps are
  RFC 3339 (``format: date-time``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

import msgspec
import msgspec.inspect as mi

from protocol.bounds import Metadata, metadata_schema

__all__ = ["JSON_VALUE", "NO_NUL", "SchemaSet"]

#: A string without U+0000 (ECMA-262 and Python regexes alike).
NO_NUL: Final = r"^[^\x00]*$"
#: The component that a request's unnamed fields (and free-form JSON) are checked against.
JSON_VALUE: Final = "JsonValue"

_TEXT_KEYWORDS = ("pattern", "format", "enum", "const")


class SchemaSet:
    """The component schemas of one document, collected from request and answer types.

    Args:
        ref_template: where components live, e.g. ``"#/components/schemas/{name}"``.
    """

    def __init__(self, ref_template: str) -> None:
        self.ref_template = ref_template
        self.components: dict[str, Any] = {}

    def ref(self, name: str) -> dict[str, str]:
        return {"$ref": self.ref_template.format(name=name)}

    def add(self, name: str, schema: dict[str, Any]) -> dict[str, str]:
        """Add a hand-written component; returns its reference."""
        self._merge({name: schema})
        return self.ref(name)

    def requests(self, types: Sequence[Any], prefix: str = "") -> list[dict[str, Any]]:
        """The schemas of request types (one per type, usually a reference), with their
        components added, tightened as the module docstring says; ``prefix`` goes before
        each component's name (a dialect's own ``MessageBody``)."""
        schemas, components = self._generate(types, prefix)
        for name, schema in components.items():
            _tighten(schema, self.ref(JSON_VALUE))
            rules = _rules_of(name.removeprefix(prefix), types)
            if rules:
                schema["allOf"] = [*schema.get("allOf", ()), _tightened(rules, self)]
        self._merge(components)
        self.components.setdefault(JSON_VALUE, _json_value(self.ref(JSON_VALUE)))
        return [_tightened(schema, self) for schema in schemas]

    def answers(self, types: Sequence[Any]) -> list[dict[str, Any]]:
        """The schemas of answer types, with their components added: every field required,
        timestamps ``date-time``."""
        schemas, components = self._generate(types)
        for info in _dataclasses(mi.multi_type_info(types)):
            schema = components.get(info.cls.__name__)
            if schema is None:
                continue
            schema["required"] = [f.encode_name for f in info.fields]
            for f in info.fields:
                if _is_time(f.type):
                    _date_time(schema["properties"][f.encode_name])
        self._merge(components)
        return schemas

    def _generate(
        self, types: Sequence[Any], prefix: str = ""
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        schemas, components = msgspec.json.schema_components(
            types,
            ref_template=self.ref_template.format(name=prefix + "{name}"),
            schema_hook=_schema_hook,
        )
        return list(schemas), {prefix + name: schema for name, schema in components.items()}

    def _merge(self, components: dict[str, Any]) -> None:
        for name, schema in components.items():
            known = self.components.setdefault(name, schema)
            if known != schema:
                raise ValueError(f"two different schemas are named {name!r}")


def _schema_hook(type_: type[Any]) -> dict[str, Any]:
    if type_ is Metadata:
        return metadata_schema()
    raise NotImplementedError(f"no schema for {type_!r}")


def _tightened(schema: dict[str, Any], schemas: SchemaSet) -> dict[str, Any]:
    _tighten(schema, schemas.ref(JSON_VALUE))
    return schema


def _tighten(schema: Any, json_value: dict[str, str]) -> None:
    """Add, in place, what a request may not hold (module docstring)."""
    if not isinstance(schema, dict):
        return
    kinds = schema.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "string" in kinds and not any(k in schema for k in _TEXT_KEYWORDS):
        schema["pattern"] = NO_NUL
    if "object" in kinds:
        schema.setdefault("propertyNames", {"pattern": NO_NUL})
        schema.setdefault("additionalProperties", json_value)
    for child in _children(schema):
        _tighten(child, json_value)


def _children(schema: dict[str, Any]) -> Iterator[Any]:
    for key in ("properties", "dependentSchemas", "$defs"):
        yield from schema.get(key, {}).values()
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        yield from schema.get(key, ())
    for key in ("items", "additionalProperties", "not", "if", "then", "else"):
        if isinstance(schema.get(key), dict):
            yield schema[key]


def _json_value(ref: dict[str, str]) -> dict[str, Any]:
    return {
        "description": "Any JSON value, with no U+0000 in a string or key.",
        "anyOf": [
            {"type": ["null", "boolean", "number"]},
            {"type": "string", "pattern": NO_NUL},
            {"type": "array", "items": ref},
            {"type": "object", "propertyNames": {"pattern": NO_NUL}, "additionalProperties": ref},
        ],
    }


def _rules_of(name: str, types: Iterable[Any]) -> dict[str, Any] | None:
    for info in _dataclasses(mi.multi_type_info(list(types))):
        if info.cls.__name__ == name:
            rules = getattr(info.cls, "schema_rules", None)
            return None if rules is None else _copy(rules)
    return None


def _copy(value: Any) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


def _dataclasses(infos: Iterable[mi.Type]) -> Iterator[mi.DataclassType]:
    """Every dataclass in the type trees ``infos``, once each."""
    seen: set[type[Any]] = set()
    pending = list(infos)
    while pending:
        info = pending.pop()
        if isinstance(info, mi.DataclassType):
            if info.cls in seen:
                continue
            seen.add(info.cls)
            yield info
            pending.extend(f.type for f in info.fields)
        elif isinstance(info, mi.UnionType):
            pending.extend(info.types)
        elif isinstance(info, mi.ListType | mi.VarTupleType | mi.SetType | mi.FrozenSetType):
            pending.append(info.item_type)
        elif isinstance(info, mi.TupleType):
            pending.extend(info.item_types)
        elif isinstance(info, mi.DictType):
            pending.append(info.value_type)


def _is_time(info: mi.Type) -> bool:
    options = info.types if isinstance(info, mi.UnionType) else (info,)
    return any(isinstance(option, mi.DateTimeType) for option in options)


def _date_time(schema: dict[str, Any]) -> None:
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string":
            option["format"] = "date-time"
