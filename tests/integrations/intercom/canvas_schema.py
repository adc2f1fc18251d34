"""The Canvas Kit answers Amends gives, as Intercom documents them: a JSON Schema of the
response envelope and of every component Amends uses, written from the reference pages (each
cited below) and the `*_component` schemas of Intercom's OpenAPI description
(github.com/intercom/Intercom-OpenAPI, descriptions/2.11/api.intercom.io.yaml). Every property
not documented is refused (`additionalProperties: false`), and so is what works only in the
Messenger (sheets, live canvases), which an inbox app cannot use.

`check(answer)` validates an answer and the rules a schema does not say (a dropdown's value is
one of its options, ids unique in a canvas, 64 KB at most); `as_text(answer)` draws a canvas
as text, for a reader of the tests.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs

DOCS = "https://developers.intercom.com/docs/references/canvas-kit"

_STRING = {"type": "string"}
_BOOLEAN = {"type": "boolean"}
_SAVE_STATE = {"enum": ["unsaved", "saved", "failed"]}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    # Initialize and submit answer the same envelope: `initialize_response`, `submit_response`
    # (https://developers.intercom.com/docs/canvas-kit#initialize-response); `event` says a
    # flow is `completed`, the only value accepted.
    "type": "object",
    "required": ["canvas"],
    "additionalProperties": False,
    "properties": {
        "canvas": {"$ref": "#/$defs/canvas"},
        "event": {"type": "object", "required": ["type"], "additionalProperties": False,
                  "properties": {"type": {"const": "completed"}}},
        "card_creation_options": {"type": "object"},
    },
    "$defs": {
        # {DOCS}/responseobjects/canvas: `content` (static) or `content_url` (live, Messenger
        # only: not for an inbox app); `stored_data` comes back with the next request.
        "canvas": {
            "type": "object", "required": ["content"], "additionalProperties": False,
            "properties": {"content": {"$ref": "#/$defs/content"},
                           "stored_data": {"type": "object"}},
        },
        # {DOCS}/responseobjects/content
        "content": {
            "type": "object", "required": ["components"], "additionalProperties": False,
            "properties": {"components": {"type": "array",
                                          "items": {"$ref": "#/$defs/component"}}},
        },
        "component": {"oneOf": [
            {"$ref": "#/$defs/text"}, {"$ref": "#/$defs/button"},
            {"$ref": "#/$defs/dropdown"}, {"$ref": "#/$defs/list"},
            {"$ref": "#/$defs/data_table"}, {"$ref": "#/$defs/divider"},
            {"$ref": "#/$defs/spacer"},
        ]},
        # Actions an inbox app may take: {DOCS}/actioncomponents/submit-action and
        # .../url-action (the sheet action is Messenger only).
        "action": {"oneOf": [
            {"type": "object", "required": ["type"], "additionalProperties": False,
             "properties": {"type": {"const": "submit"}}},
            {"type": "object", "required": ["type", "url"], "additionalProperties": False,
             "properties": {"type": {"const": "url"},
                            "url": {"type": "string", "pattern": "^https?://"}}},
        ]},
        # {DOCS}/presentationcomponents/text
        "text": {
            "type": "object", "required": ["type", "text"], "additionalProperties": False,
            "properties": {
                "type": {"const": "text"}, "id": _STRING, "text": _STRING,
                "align": {"enum": ["left", "center", "right"]},
                "style": {"enum": ["header", "paragraph", "muted", "error"]},
                "bottom_margin": {"const": "none"},
            },
        },
        # {DOCS}/interactivecomponents/button
        "button": {
            "type": "object", "required": ["type", "id", "label", "action"],
            "additionalProperties": False,
            "properties": {
                "type": {"const": "button"}, "id": _STRING, "label": _STRING,
                "action": {"$ref": "#/$defs/action"},
                "style": {"enum": ["primary", "secondary", "link"]}, "disabled": _BOOLEAN,
            },
        },
        # {DOCS}/interactivecomponents/dropdown: 2 to 10 options.
        "dropdown": {
            "type": "object", "required": ["type", "id", "options"],
            "additionalProperties": False,
            "properties": {
                "type": {"const": "dropdown"}, "id": _STRING, "label": _STRING,
                "options": {"type": "array", "minItems": 2, "maxItems": 10,
                            "items": {"$ref": "#/$defs/option"}},
                "value": _STRING, "save_state": _SAVE_STATE, "disabled": _BOOLEAN,
            },
        },
        "option": {
            "type": "object", "required": ["type", "id", "text"], "additionalProperties": False,
            "properties": {"type": {"const": "option"}, "id": _STRING, "text": _STRING,
                           "disabled": _BOOLEAN},
        },
        # {DOCS}/interactivecomponents/list: items with an image need its width and height.
        "list": {
            "type": "object", "required": ["type", "items"], "additionalProperties": False,
            "properties": {"type": {"const": "list"}, "disabled": _BOOLEAN,
                           "items": {"type": "array", "items": {"$ref": "#/$defs/item"}}},
        },
        "item": {
            "type": "object", "required": ["type", "id", "title"], "additionalProperties": False,
            "properties": {
                "type": {"const": "item"}, "id": _STRING, "title": _STRING,
                "subtitle": _STRING, "tertiary_text": _STRING,
                "image": {"type": "string", "pattern": "^https://"},
                "image_width": {"type": "integer"}, "image_height": {"type": "integer"},
                "rounded_image": _BOOLEAN, "disabled": _BOOLEAN,
                "action": {"$ref": "#/$defs/action"},
            },
            "dependentRequired": {"image": ["image_width", "image_height"]},
        },
        # {DOCS}/presentationcomponents/data-table
        "data_table": {
            "type": "object", "required": ["type", "items"], "additionalProperties": False,
            "properties": {
                "type": {"const": "data-table"},
                "items": {"type": "array", "items": {
                    "type": "object", "required": ["type", "field", "value"],
                    "additionalProperties": False,
                    "properties": {"type": {"const": "field-value"}, "field": _STRING,
                                   "value": _STRING}}},
            },
        },
        # {DOCS}/presentationcomponents/divider
        "divider": {
            "type": "object", "required": ["type"], "additionalProperties": False,
            "properties": {"type": {"const": "divider"}, "id": _STRING,
                           "bottom_margin": {"const": "none"}},
        },
        # {DOCS}/presentationcomponents/spacer
        "spacer": {
            "type": "object", "required": ["type"], "additionalProperties": False,
            "properties": {"type": {"const": "spacer"}, "id": _STRING,
                           "size": {"enum": ["xs", "s", "m", "l", "xl"]}},
        },
    },
}

_VALIDATOR = jsonschema_rs.Draft202012Validator(SCHEMA)
# "Max Size is 64KB" for the content and for stored_data ({DOCS}/responseobjects/canvas).
MAX_BYTES = 64 * 1024


def check(answer: Any) -> dict[str, Any]:
    """The answer, if it is a canvas Intercom documents; else the test fails, saying why."""
    errors = [str(e).split("\n")[0] for e in _VALIDATOR.iter_errors(answer)]
    assert errors == [], f"not a documented Canvas Kit answer: {errors}\n{json.dumps(answer)}"
    canvas = answer["canvas"]
    for part in ("content", "stored_data"):
        size = len(json.dumps(canvas.get(part, {})).encode())
        assert size <= MAX_BYTES, f"{part} is {size} bytes"
    ids: list[str] = []
    for component in canvas["content"]["components"]:
        if component["type"] == "dropdown" and "value" in component:
            assert component["value"] in [o["id"] for o in component["options"]], component
        ids += [component["id"]] if "id" in component else []
        ids += [i["id"] for i in component.get("items", []) if component["type"] == "list"]
    assert len(ids) == len(set(ids)), f"component ids repeat: {ids}"
    return dict(answer)


def components(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return list(answer["canvas"]["content"]["components"])


def ids(answer: dict[str, Any]) -> list[str]:
    """The ids a teammate can click: buttons and list items."""
    found: list[str] = []
    for component in components(answer):
        if component["type"] == "button":
            found.append(component["id"])
        if component["type"] == "list":
            found += [item["id"] for item in component["items"]]
    return found


def as_text(answer: dict[str, Any]) -> str:
    """The canvas as a teammate reads it: one line a component (or a row)."""
    lines: list[str] = []
    for component in components(answer):
        kind = component["type"]
        if kind == "text":
            style = component.get("style", "paragraph")
            prefix = {"header": "# ", "muted": "  ", "error": "! "}.get(style, "")
            lines.append(prefix + component["text"])
        elif kind == "button":
            lines.append(f"[{component['label']}]")
        elif kind == "dropdown":
            chosen = {o["id"]: o["text"] for o in component["options"]}.get(
                component.get("value", ""), "…")
            lines.append(f"{component.get('label', '')}: <{chosen} v>")
        elif kind == "list":
            lines += [" > " + " · ".join(filter(None, [i["title"], i.get("subtitle"),
                                                        i.get("tertiary_text")]))
                      for i in component["items"]]
        elif kind == "data-table":
            lines += [f"  {row['field']}: {row['value']}" for row in component["items"]]
        elif kind == "divider":
            lines.append("-" * 40)
    return "\n".join(lines)
