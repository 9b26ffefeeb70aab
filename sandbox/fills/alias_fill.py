"""UpdateAlias as AWS does it: a new RevisionId on every update, a stale RevisionId refused with
PreconditionFailedException (HTTP 412), routing to a version that does not exist refused with
ResourceNotFoundException, weights outside [0, 1) refused. moto keeps one RevisionId for an
alias's whole life and accepts anything, which would let a guard against a moved alias pass
untested."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote


def install() -> None:
    from moto.awslambda import responses as lr
    from moto.awslambda.exceptions import InvalidParameterValueException, PreconditionFailedException
    from moto.awslambda.exceptions import UnknownFunctionException
    from moto.moto_api._internal import mock_random as random

    orig_update_alias = lr.LambdaResponse.update_alias

    def update_alias(self: Any) -> Any:
        function_name = unquote(self.path.rsplit("/")[-3])
        alias_name = unquote(self.path.rsplit("/", 2)[-1])
        params = json.loads(self.body or "{}")
        alias = self.backend.get_alias(name=alias_name, function_name=function_name)  # 404 when gone
        wanted = params.get("RevisionId")
        if wanted and wanted != alias.revision_id:
            raise PreconditionFailedException(
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetAlias API to retrieve the latest Revision Id")
        weights = ((params.get("RoutingConfig") or {}).get("AdditionalVersionWeights")) or {}
        primary = params.get("FunctionVersion") or alias.function_version
        for version, weight in weights.items():
            if not 0.0 <= float(weight) < 1.0:
                raise InvalidParameterValueException(f"Invalid weight {weight} for version {version}")
            if str(version) == str(primary) or version == "$LATEST" or primary == "$LATEST":
                raise InvalidParameterValueException(
                    "RoutingConfig: the additional version must be a published version other than the primary")
        for version in (primary, *weights):
            if version == "$LATEST":
                continue
            try:
                self.backend.get_function(function_name, str(version))
            except Exception:
                arn = f"arn:aws:lambda:{self.region}:{self.current_account}:function:{function_name}:{version}"
                raise UnknownFunctionException(arn) from None
        result = orig_update_alias(self)
        alias.revision_id = str(random.uuid4())
        body = json.loads(result[2])
        body["RevisionId"] = alias.revision_id
        if not body.get("RoutingConfig") or not (body["RoutingConfig"] or {}).get("AdditionalVersionWeights"):
            body.pop("RoutingConfig", None)
        return 200, result[1], json.dumps(body)

    lr.LambdaResponse.update_alias = update_alias
