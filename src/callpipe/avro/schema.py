"""Derive Avro schemas from the pydantic contracts, so the models and schemas/*.avsc cannot drift.

The generated schema is what ``callpipe schemas`` writes to schemas/; a unit test fails when the
committed file differs from what the model generates. Mapping:

==========================  ==========================================================
pydantic                    Avro
==========================  ==========================================================
str / int / float / bool    string / long / double / boolean
datetime                    long, logicalType timestamp-micros (UTC)
StrEnum                     enum; the first member is the ``default`` symbol so old readers
                            survive symbols added later
Contract subclass           record in the ``callpipe.v1`` namespace (named once, then by name)
list[X] / dict[str, X]      array / map
X | None                    ["null", X] with default null
==========================  ==========================================================
"""

from __future__ import annotations

import types
import typing
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from callpipe.models.common import AVRO_NAMESPACE

__all__ = ["avro_schema", "full_name"]

_PRIMITIVES: dict[type, str] = {str: "string", int: "long", float: "double", bool: "boolean"}


def full_name(model: type[BaseModel]) -> str:
    """Avro full name of a contract, e.g. ``callpipe.v1.RecordingReady``."""
    return f"{AVRO_NAMESPACE}.{model.__name__}"


def avro_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The Avro record schema (as a JSON-ready dict) of a pydantic contract."""
    return _record(model, defined=set())


def _record(model: type[BaseModel], defined: set[str]) -> dict[str, Any]:
    defined.add(model.__name__)
    doc = (model.__doc__ or model.__name__).strip().splitlines()[0]
    fields = [_field(name, info, defined) for name, info in model.model_fields.items()]
    return {
        "type": "record",
        "name": model.__name__,
        "namespace": AVRO_NAMESPACE,
        "doc": doc,
        "fields": fields,
    }


def _field(name: str, info: FieldInfo, defined: set[str]) -> dict[str, Any]:
    if not info.description:
        raise ValueError(f"field {name!r} has no description: every Avro field needs a doc")
    field: dict[str, Any] = {"name": name, "type": _type(info.annotation, defined), "doc": info.description}
    default = _default(info)
    if default is not _NO_DEFAULT:
        field["default"] = default
    return field


_NO_DEFAULT = object()


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        value = info.default_factory()  # type: ignore[call-arg]
    elif info.default is not PydanticUndefined:
        value = info.default
    else:
        return _NO_DEFAULT
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, StrEnum):
        return value.value
    return value


def _type(annotation: Any, defined: set[str]) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (types.UnionType, typing.Union):
        members = [a for a in args if a is not type(None)]
        if len(members) != 1 or len(args) != 2:
            raise TypeError(f"only 'X | None' unions are supported, got {annotation!r}")
        return ["null", _type(members[0], defined)]
    if origin is list:
        return {"type": "array", "items": _type(args[0], defined)}
    if origin is dict:
        if args[0] is not str:
            raise TypeError(f"map keys must be str, got {annotation!r}")
        return {"type": "map", "values": _type(args[1], defined)}
    if annotation is datetime:
        return {"type": "long", "logicalType": "timestamp-micros"}
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        if annotation.__name__ in defined:
            return annotation.__name__
        defined.add(annotation.__name__)
        symbols = [m.value for m in annotation]
        doc = (annotation.__doc__ or annotation.__name__).strip().splitlines()[0]
        return {
            "type": "enum",
            "name": annotation.__name__,
            "doc": doc,
            "symbols": symbols,
            "default": symbols[0],
        }
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation.__name__ in defined:
            return annotation.__name__
        return _record(annotation, defined)
    if annotation in _PRIMITIVES:
        return _PRIMITIVES[annotation]
    raise TypeError(f"no Avro mapping for {annotation!r}")
