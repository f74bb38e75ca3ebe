#!/usr/bin/env python3
"""Validate every FHIR R4 JSON resource in a directory with an independent implementation.

Uses the PyPI package fhir.resources pinned to 6.4.0, the last release whose default models are FHIR R4 4.0.1
(standards.md §2.4: 5.1.x-6.4.0 default to R4 4.0.1; 6.5.0 switched to R4B). 6.4.0 needs pydantic 1.x:

    python3 -m pip install 'fhir.resources==6.4.0' 'pydantic==1.10.27'
    python3 tools/fhir/validate.py DIR

The check is structural (element names, types, cardinality, required elements; unknown elements are refused);
it does not check profiles, terminology or value-set bindings. Exit 0 when every file validates, 1 otherwise.
"""

import json
import pathlib
import sys

PINNED = "6.4.0"


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: validate.py DIR", file=sys.stderr)
        return 2
    try:
        import fhir.resources
        from fhir.resources import construct_fhir_element
    except ImportError as e:
        print(f"fhir.resources=={PINNED} is not installed ({e})", file=sys.stderr)
        return 2
    if fhir.resources.__version__ != PINNED or fhir.resources.__fhir_version__ != "4.0.1":
        print(
            f"fhir.resources {fhir.resources.__version__} (FHIR {fhir.resources.__fhir_version__}) found; "
            f"{PINNED} (FHIR 4.0.1) is required",
            file=sys.stderr,
        )
        return 2
    files = sorted(pathlib.Path(sys.argv[1]).glob("*.json"))
    if not files:
        print(f"no JSON files in {sys.argv[1]}", file=sys.stderr)
        return 1
    failed = 0
    for path in files:
        try:
            data = json.loads(path.read_text())
            construct_fhir_element(data["resourceType"], data)
            print(f"ok      {path.name} ({data['resourceType']})")
        except Exception as e:  # any failure is a finding about that file
            failed += 1
            print(f"INVALID {path.name}: {e}")
    print(f"{len(files) - failed} of {len(files)} valid (fhir.resources {PINNED}, FHIR R4 4.0.1)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
