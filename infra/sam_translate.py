"""Expands template.yaml with the SAM translator (the code behind CloudFormation's
AWS::Serverless transform), so cfn-lint can check the plain CloudFormation that will deploy.

usage: python sam_translate.py template.yaml out.json
"""

import json
import os
import sys

# The translator asks boto for a region even though nothing is called.
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


def main(source: str, target: str) -> None:
    with open(source, encoding="utf-8") as f:
        template = yaml_parse(f.read())
    _as_if_packaged(template)
    # The template names no managed policy itself; SAM's own (basic execution, X-Ray) resolve
    # by ARN, so no IAM lookup is needed offline.
    parameters = {"AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012"}
    try:
        expanded = transform(template, parameters, managed_policy_loader=_NoLookups(), feature_toggle=None)
    except InvalidDocumentException as e:
        for error in e.causes:
            print(f"{source}: SAM transform: {error.message}", file=sys.stderr)
        sys.exit(1)
    with open(target, "w", encoding="utf-8") as f:
        json.dump(expanded, f, indent=1)


def _as_if_packaged(template: dict) -> None:
    """`sam package` replaces a local CodeUri with the S3 object it uploads; do the same."""
    holders = [template.get("Globals", {}).get("Function", {})]
    holders += [
        r.get("Properties", {})
        for r in template.get("Resources", {}).values()
        if r.get("Type") == "AWS::Serverless::Function"
    ]
    for properties in holders:
        uri = properties.get("CodeUri")
        if isinstance(uri, str) and not uri.startswith("s3://"):
            properties["CodeUri"] = "s3://packaged-by-sam/" + uri.strip("./") + "code.zip"


class _NoLookups:
    def load(self):
        return {}


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
