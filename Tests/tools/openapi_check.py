#!/usr/bin/env python3
"""Checks recorded API responses against the OpenAPI document.

Usage: openapi_check.py OPENAPI.json SAMPLES.json

The document itself is validated with openapi-spec-validator; each sample
({"method", "path" (a template from the document), "status", "content_type", "body"})
must match a documented response of that operation, and its JSON body must validate
against the response schema with jsonschema (OpenAPI 3.1 schemas are JSON Schema 2020-12).
Prints one line per problem and exits 1 if there is any.
"""
import json
import sys

import jsonschema
from openapi_spec_validator import validate

def main():
    doc = json.load(open(sys.argv[1]))
    samples = json.load(open(sys.argv[2]))
    validate(doc)
    problems = []
    for s in samples:
        where = f'{s["method"]} {s["path"]} -> {s["status"]}'
        operation = doc["paths"].get(s["path"], {}).get(s["method"].lower())
        if operation is None:
            problems.append(f"{where}: operation not documented")
            continue
        response = operation["responses"].get(str(s["status"]))
        if response is None:
            problems.append(f"{where}: status not documented")
            continue
        content = response.get("content")
        if not content:
            continue
        media = s["content_type"].split(";")[0].strip()
        if media not in content:
            problems.append(f"{where}: content type {media} not documented ({list(content)})")
            continue
        schema = content[media].get("schema")
        if schema is None or media != "application/json":
            continue
        # Resolve "#/components/..." against the document itself.
        root = dict(doc)
        root.update(schema)
        try:
            jsonschema.Draft202012Validator(root).validate(s["body"])
        except jsonschema.ValidationError as e:
            problems.append(f"{where}: {e.message} at {list(e.absolute_path)}")
    for p in problems:
        print(p)
    print(f"{len(samples)} responses checked, {len(problems)} problems")
    sys.exit(1 if problems else 0)

if __name__ == "__main__":
    main()
