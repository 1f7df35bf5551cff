"""MkDocs hook: the HTTP API reference, generated from the web application's OpenAPI document.

The app is built over a throwaway store exactly as the web tests build it and asked for
``app.openapi()``, so every route, parameter and schema on the page is the served one; nothing
generated is committed.
"""

from __future__ import annotations

import html
import re
import tempfile
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

PAGE = "reference/api.md"
METHODS = ("get", "post", "put", "patch", "delete")


def openapi_document() -> dict[str, Any]:
    from kaitiaki.store import open_store
    from kaitiaki.web.app import create_app
    from kaitiaki.web.settings import WebSettings

    # An empty store of its own: the document depends on the code, never on anyone's data.
    with tempfile.TemporaryDirectory(prefix="kaitiaki-docs-") as folder:
        root = Path(folder)
        store = open_store(f"sqlite:///{root / 'openapi.db'}")
        try:
            app = create_app(store, WebSettings(start_jobs=False, data_dir=root / "web"))
            document: dict[str, Any] = app.openapi()
        finally:
            store.close()
        return document


def _text(value: object) -> str:
    """Prose from the document, safe in a table cell: one line, HTML and pipes escaped."""
    flat = " ".join(str(value).split())
    return html.escape(flat, quote=False).replace("|", "\\|") or " "


def _type(schema: dict[str, Any]) -> str:
    """A schema in a few words; a reference links to its entry below."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#schema-{name.lower()})"
    if "anyOf" in schema:
        return " or ".join(_type(option) for option in schema["anyOf"])
    if schema.get("type") == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    kind = str(schema.get("type", "any"))
    return f"{kind} ({schema['format']})" if "format" in schema else kind


def _body(operation: dict[str, Any]) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    return [
        f"Request body (`{media}`): {_type(spec.get('schema', {}))}"
        for media, spec in content.items()
    ]


def _operation(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    lines = [f"### {method.upper()} `{path}`", "", f"**{_text(operation.get('summary', ''))}**", ""]
    if operation.get("description"):
        lines += [html.escape(operation["description"], quote=False), ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += [
            "| parameter | in | required | type | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for parameter in parameters:
            required = "yes" if parameter.get("required") else "no"
            kind = _type(parameter.get("schema", {}))
            said = _text(parameter.get("description", ""))
            lines.append(
                f"| `{parameter['name']}` | {parameter['in']} | {required} | {kind} | {said} |"
            )
        lines.append("")
    for line in _body(operation):
        lines += [line, ""]
    answers = []
    for status, response in operation.get("responses", {}).items():
        media: dict[str, Any] = next(iter(response.get("content", {}).values()), {})
        schema = media.get("schema")
        shown = f": {_type(schema)}" if schema else ""
        answers.append(f"- `{status}` {_text(response.get('description', ''))}{shown}")
    if answers:
        lines += ["Responses:", "", *answers, ""]
    return lines


def _schema(name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name} {{#schema-{name.lower()}}}", ""]
    if schema.get("description"):
        lines += [_text(schema["description"]), ""]
    properties = schema.get("properties", {})
    if properties:
        required = set(schema.get("required", []))
        lines += ["| field | type | required | description |", "| --- | --- | --- | --- |"]
        for field, spec in properties.items():
            lines.append(
                f"| `{field}` | {_type(spec)} | {'yes' if field in required else 'no'} | "
                f"{_text(spec.get('description', ''))} |"
            )
        lines.append("")
    elif "enum" in schema:
        lines += [f"One of {_type(schema)}.", ""]
    return lines


def api_reference() -> str:
    """The whole reference page as Markdown, operations grouped by their first tag."""
    document = openapi_document()
    info = document.get("info", {})
    groups: dict[str, list[str]] = {}
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method in item:
                tag = (item[method].get("tags") or ["other"])[0]
                groups.setdefault(tag, []).extend(_operation(method, path, item[method]))
    lines = [
        "# HTTP API reference",
        "",
        "Generated when this site is built, from the OpenAPI document of the web application",
        f"(`{html.escape(info.get('title', ''))}` {info.get('version', '')}, OpenAPI",
        f"{document.get('openapi', '')}). A running server serves the same document at",
        "`/openapi.json` to signed-in users.",
        "",
    ]
    for tag in sorted(groups):
        lines += [f"## {re.sub(r'[^A-Za-z0-9 _-]', '', tag) or 'other'}", "", *groups[tag]]
    schemas = document.get("components", {}).get("schemas", {})
    if schemas:
        lines += ["## Schemas", ""]
        for name in sorted(schemas):
            lines += _schema(name, schemas[name])
    return "\n".join(lines)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    files.append(File.generated(config, PAGE, content=api_reference()))
    return files
