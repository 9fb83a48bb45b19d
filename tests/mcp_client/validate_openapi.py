"""Validate an OpenAPI document with openapi-spec-validator. Usage: validate_openapi.py FILE"""

import json
import sys

from openapi_spec_validator import validate

validate(json.load(open(sys.argv[1])))
print("openapi: valid")
