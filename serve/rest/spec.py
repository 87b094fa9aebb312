"""OpenAPI descriptions of the REST routes (served at /spec, where LibreTranslate serves its)."""

from __future__ import annotations


def body(properties: dict, required: list[str]) -> dict:
    """OpenAPI for a route that takes JSON or a form with these fields."""
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
        },
        "responses": {
            "400": {"description": '{"error": "..."} bad parameters'},
            "403": {"description": '{"error": "..."} API key missing or invalid'},
            "413": {"description": '{"error": "..."} request body too large'},
            "429": {"description": '{"error": "..."} request rate over the limit'},
            "503": {"description": '{"error": "..."} too many requests waiting'},
        },
    }


_Q = {
    "oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    "description": "Text, or an array of texts",
}
_KEY = {"type": "string", "description": "Required when the server was given --api-keys"}
TRANSLATE = body(
    {
        "q": _Q,
        "source": {"type": "string", "enum": ["ar", "en", "auto"], "default": "auto"},
        "target": {"type": "string", "enum": ["en"], "default": "en"},
        "format": {"type": "string", "enum": ["text", "html"], "default": "text"},
        "alternatives": {
            "type": "integer",
            "default": 0,
            "description": "Further translations from the beam",
        },
        "api_key": _KEY,
    },
    ["q"],
)
DETECT = body({"q": _Q, "api_key": _KEY}, ["q"])
SUMMARIZE = body(
    {
        "q": {"type": "string", "description": "the article, Arabic (or English)"},
        "source": {
            "type": "string",
            "enum": ["ar", "en", "auto"],
            "description": "auto (default) detects; English is summarised as it is, not "
            "translated (the answer's `translated` is false)",
        },
        "summarizer": {
            "type": "string",
            "description": "one of the server's summarisers (default: the server's own)",
        },
        "api_key": _KEY,
    },
    ["q"],
)
_DOCUMENT = {
    "type": "object",
    "required": ["text"],
    "properties": {
        "id": {"type": "string", "description": "unique in the request (default: position)"},
        "text": {"type": "string", "description": "the article, Arabic or English"},
        "title": {"type": "string"},
        "outlet": {"type": "string"},
        "date": {"type": "string"},
    },
}
DIGEST = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "array", "items": _DOCUMENT},
                        {
                            "type": "object",
                            "required": ["documents"],
                            "properties": {
                                "documents": {"type": "array", "items": _DOCUMENT},
                                "summarizer": {"type": "string"},
                                "points": {"type": "integer", "minimum": 1, "maximum": 20},
                                "api_key": _KEY,
                            },
                        },
                    ]
                }
            }
        },
    },
    "responses": {
        "200": {"description": "the digest JSON (khulasa/models/digest/digest.schema.json)"},
        **body({}, [])["responses"],
    },
}
TRANSLATE_FILE = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "source": {"type": "string", "enum": ["ar", "auto"], "default": "auto"},
                        "target": {"type": "string", "enum": ["en"], "default": "en"},
                        "api_key": _KEY,
                    },
                }
            }
        },
    },
    "responses": {
        "200": {"description": '{"translatedFileUrl": "..."}: GET it for the translated file'},
        **body({}, [])["responses"],
    },
}
