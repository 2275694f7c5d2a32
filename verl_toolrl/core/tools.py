"""Tool descriptions: every source's layout read into one, and written out for each prompt format.

The package's tool dict is the layout ToolRL's system prompt shows (checked against its released data):
``{"name", "description", "parameters": {param: {"description", "type", "default"}}}``, with
``default`` ``""`` where the source has none, plus ``required`` (the parameter names a call must pass),
which the ToolRL prompt does not show but the Hermes/Qwen JSON schema does.

- xLAM (and Hammer) tools are already flat; optional parameters carry a ``", optional"`` type suffix.
- ToolACE tools are JSON-schema-like (``{"type": "dict", "properties": …, "required": […]}``); ToolRL
  flattened them, dropping ``enum``/``format`` and the schema's ``required`` from the prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from verl_toolrl.core.calls import Format, check_format
from verl_toolrl.core.errors import BAD_LAYOUT, MISSING_FIELD, WRONG_TYPE, RecordError

OPTIONAL_SUFFIX = ", optional"

# Python-style and loose type names of the sources -> JSON-schema types (Hermes prompts). Others are kept.
_JSON_TYPES = {
    "str": "string",
    "string": "string",
    "int": "integer",
    "integer": "integer",
    "float": "number",
    "number": "number",
    "double": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "list": "array",
    "array": "array",
    "tuple": "array",
    "set": "array",
    "dict": "object",
    "object": "object",
}


def flat_parameter(spec: Mapping[str, Any], path: str) -> dict[str, Any]:
    """One parameter as ToolRL's prompt shows it: description, type, default (``""`` when absent).

    >>> flat_parameter({"type": "int", "description": "Count.", "enum": [1, 2]}, "p")
    {'description': 'Count.', 'type': 'int', 'default': ''}
    """
    if not isinstance(spec, Mapping):
        raise RecordError(path, WRONG_TYPE, f"a parameter spec must be an object, got {type(spec).__name__}")
    default = spec.get("default", "")
    return {
        "description": spec.get("description", ""),
        "type": spec.get("type", ""),
        "default": "" if default is None else default,
    }


def _checked_name_and_description(tool: Any, path: str) -> tuple[str, str]:
    if not isinstance(tool, Mapping):
        raise RecordError(path, WRONG_TYPE, f"a tool must be an object, got {type(tool).__name__}")
    name = tool.get("name")
    if name is None:
        raise RecordError(f"{path}.name", MISSING_FIELD, "the tool has no name")
    if not isinstance(name, str) or not name:
        raise RecordError(f"{path}.name", WRONG_TYPE, f"a tool name must be a non-empty string, got {name!r}")
    description = tool.get("description", "")
    if not isinstance(description, str):
        raise RecordError(f"{path}.description", WRONG_TYPE, "a description must be a string")
    return name, description


def required_from_types(parameters: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Parameters without an ``", optional"`` type suffix (how a flat tool list marks what is required).

    >>> required_from_types({"a": {"type": "str"}, "b": {"type": "str, optional"}})
    ['a']
    """
    return [key for key, spec in parameters.items() if not str(spec.get("type", "")).endswith(OPTIONAL_SUFFIX)]


def tool_from_flat(tool: Any, path: str = "tool") -> dict[str, Any]:
    """A tool in xLAM's layout (flat parameter map; ``"…, optional"`` types are optional).

    >>> t = tool_from_flat({"name": "f", "description": "d",
    ...                     "parameters": {"a": {"type": "str"}, "b": {"type": "int, optional", "default": 1}}})
    >>> t["parameters"]["a"], t["required"]
    ({'description': '', 'type': 'str', 'default': ''}, ['a'])
    """
    name, description = _checked_name_and_description(tool, path)
    parameters = tool.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise RecordError(f"{path}.parameters", WRONG_TYPE, "parameters must be an object")
    flat = {key: flat_parameter(spec, f"{path}.parameters.{key}") for key, spec in parameters.items()}
    return {
        "name": name,
        "description": description,
        "parameters": flat,
        "required": required_from_types(flat),
    }


def tool_from_json_schema(tool: Any, path: str = "tool") -> dict[str, Any]:
    """A tool in ToolACE's JSON-schema-like layout (``properties`` + ``required``); a flat parameter
    map (no ``properties``, no ``type``) is accepted too.

    >>> t = tool_from_json_schema({"name": "Get Quote", "description": "d", "parameters": {"type": "dict",
    ...     "properties": {"word": {"description": "w", "type": "string", "enum": ["a"]}}, "required": ["word"]},
    ...     "required": None})
    >>> t["parameters"], t["required"]
    ({'word': {'description': 'w', 'type': 'string', 'default': ''}}, ['word'])
    """
    name, description = _checked_name_and_description(tool, path)
    parameters = tool.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        raise RecordError(f"{path}.parameters", WRONG_TYPE, "parameters must be an object")
    if "properties" in parameters or "type" in parameters:
        properties = parameters.get("properties") or {}
        if not isinstance(properties, Mapping):
            raise RecordError(f"{path}.parameters.properties", BAD_LAYOUT, "properties must be an object")
        required = parameters.get("required") or []
        if not isinstance(required, list) or not all(isinstance(key, str) for key in required):
            raise RecordError(f"{path}.parameters.required", WRONG_TYPE, "required must be a list of names")
        flat = {key: flat_parameter(spec, f"{path}.parameters.properties.{key}") for key, spec in properties.items()}
        return {"name": name, "description": description, "parameters": flat, "required": list(required)}
    return tool_from_flat(tool, path)


def json_schema_type(type_text: Any) -> Any:
    """The JSON-schema type for a source's type string (``"List[int]"`` → ``"array"``); unknown kept.

    >>> json_schema_type("int, optional"), json_schema_type("List[str]"), json_schema_type("Callable")
    ('integer', 'array', 'Callable')
    """
    if not isinstance(type_text, str):
        return type_text
    base = type_text.removesuffix(OPTIONAL_SUFFIX).strip()
    head = base.split("[", 1)[0].strip().lower()
    return _JSON_TYPES.get(head, base)


def hermes_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A package tool as the function schema the Qwen/Hermes chat templates list inside ``<tools>``.

    >>> hermes_tool({"name": "f", "description": "d",
    ...              "parameters": {"a": {"description": "x", "type": "int", "default": ""}},
    ...              "required": ["a"]})  # doctest: +NORMALIZE_WHITESPACE
    {'type': 'function', 'function': {'name': 'f', 'description': 'd',
     'parameters': {'type': 'object', 'properties': {'a': {'type': 'integer', 'description': 'x'}}, 'required': ['a']}}}
    """
    properties = {}
    for key, spec in tool.get("parameters", {}).items():
        prop = {"type": json_schema_type(spec.get("type", "")), "description": spec.get("description", "")}
        if spec.get("default", "") != "":
            prop["default"] = spec["default"]
        properties[key] = prop
    required = [key for key in tool.get("required", list(properties)) if key in properties]
    return {
        "type": "function",
        "function": {
            "name": tool["name"],
            "description": tool.get("description", ""),
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


def prompt_tools(tools: Sequence[Mapping[str, Any]], format: Format = "toolrl") -> list[dict[str, Any]]:
    """The tool list as ``prompts.system_prompt`` gets it for ``format`` (and as ``extra_info.tools`` stores it).

    >>> prompt_tools([{"name": "f", "description": "", "parameters": {}, "required": []}])
    [{'name': 'f', 'description': '', 'parameters': {}}]
    """
    check_format(format)
    if format == "toolrl":
        return [
            {
                "name": tool["name"],
                "description": tool.get("description", ""),
                "parameters": tool.get("parameters", {}),
            }
            for tool in tools
        ]
    return [hermes_tool(tool) for tool in tools]
