"""The simulated estate: account/region constants, function specs, and seeding over the AWS APIs."""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import asdict, dataclass, field
from typing import Any

PROD_ACCOUNT_ID = "123456789012"
STAGING_ACCOUNT_ID = "210987654321"
READONLY_ROLE_NAME = "LambdaOpsReadOnly"
STAGING_ROLE_ARN = f"arn:aws:iam::{STAGING_ACCOUNT_ID}:role/{READONLY_ROLE_NAME}"
EXTERNAL_ID = "lambda-ops"
REGIONS = ("us-east-1", "eu-west-1")
DEFAULT_ENDPOINT = "http://127.0.0.1:5055"

ACCOUNTS: list[dict[str, Any]] = [
    {"account_id": PROD_ACCOUNT_ID, "name": "prod", "role_arn": None, "external_id": None,
     "regions": list(REGIONS), "credentials": "default chain (AWS_ACCESS_KEY_ID=testing)"},
    {"account_id": STAGING_ACCOUNT_ID, "name": "staging", "role_arn": STAGING_ROLE_ARN,
     "external_id": EXTERNAL_ID, "regions": list(REGIONS), "credentials": "sts:AssumeRole"},
]


def default_endpoint() -> str:
    return os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT


@dataclass
class FunctionSpec:
    name: str
    account: str
    region: str
    runtime: str = "python3.12"
    memory: int = 512
    timeout: int = 30
    arch: str = "x86_64"
    kind: str = "api"                 # api | sqs | stream | async | cron
    rate: float = 10.0                # invocations per minute at the daily peak
    error_rate: float = 0.01
    duration_ms: float = 120.0        # median
    duration_sigma: float = 0.5       # lognormal spread
    init_ms: float = 250.0
    cold_rate: float = 0.02
    log_format: str = "text"          # text | json
    versions: int = 1                 # published versions
    aliases: dict[str, Any] = field(default_factory=dict)  # name -> {"version": "7", "weights": {"8": 0.1}}
    traffic_alias: str | None = None  # invocations go through this alias
    reserved: int | None = None
    provisioned: int | None = None    # on traffic_alias
    source_queue: str | None = None   # SQS-triggered: source queue (with RedrivePolicy -> dlq)
    dlq: str | None = None            # sqs: the source queue's DLQ; async: the Lambda DeadLetterConfig target
    on_failure: str | None = None     # async: on-failure destination queue
    stream_table: str | None = None   # stream-triggered: DynamoDB table with a stream
    # Share of failed events that still fail after the retries (SQS redelivery, Lambda's two
    # async retries) and so reach the DLQ / on-failure destination. Transient errors mostly
    # succeed on a retry, so a healthy estate's DLQs fill slowly; 1.0 sends every failure.
    dead_letter_share: float = 1.0
    team: str = "platform"
    service: str = "core"
    env: str = "prod"

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"


@dataclass
class Estate:
    accounts: list[dict[str, Any]]
    regions: list[str]
    functions: list[FunctionSpec]
    queues: list[dict[str, str]] = field(default_factory=list)
    small: bool = False

    @property
    def function_names(self) -> list[str]:
        return [f.name for f in self.functions]

    @property
    def function_arns(self) -> list[str]:
        return [f.arn for f in self.functions]

    def function(self, name: str) -> FunctionSpec:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def aliases(self) -> dict[str, dict[str, Any]]:
        return {f.name: f.aliases for f in self.functions if f.aliases}

    def to_json(self) -> dict[str, Any]:
        return {"accounts": self.accounts, "regions": self.regions, "small": self.small,
                "queues": self.queues, "functions": [asdict(f) for f in self.functions]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Estate":
        return cls(accounts=data["accounts"], regions=data["regions"], small=data.get("small", False),
                   queues=data.get("queues", []), functions=[FunctionSpec(**f) for f in data["functions"]])


def _zip(runtime: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        if runtime.startswith("python"):
            z.writestr("app.py", "def handler(event, context):\n    return {'ok': True}\n")
        elif runtime.startswith("nodejs"):
            z.writestr("index.js", "exports.handler = async () => ({ ok: true });\n")
        else:
            z.writestr("bootstrap", "#!/bin/sh\necho ok\n")
    return buf.getvalue()


_HANDLER = {"python": "app.handler", "nodejs": "index.handler", "java21": "com.example.Handler::handleRequest",
            "provided": "bootstrap"}


def _handler(runtime: str) -> str:
    for k, v in _HANDLER.items():
        if runtime.startswith(k):
            return v
    return "bootstrap"


def session_for(endpoint: str, account: str, region: str):
    """A boto3 session for an estate account: the plain chain for prod, AssumeRole for staging."""
    import boto3

    base = boto3.session.Session(aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
                                 aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
                                 region_name=region)
    if account == PROD_ACCOUNT_ID:
        return base
    creds = base.client("sts", endpoint_url=endpoint).assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{READONLY_ROLE_NAME}", RoleSessionName="sandbox-seed",
        ExternalId=EXTERNAL_ID)["Credentials"]
    return boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                 aws_secret_access_key=creds["SecretAccessKey"],
                                 aws_session_token=creds["SessionToken"], region_name=region)


def seed(endpoint: str | None = None, *, small: bool = False, specs: list[FunctionSpec] | None = None) -> Estate:
    """Create the estate (``specs``, else the small or the full set) through the ordinary AWS
    APIs and register it with the server."""
    from botocore.config import Config

    endpoint = endpoint or default_endpoint()
    from .specs import full_specs, small_specs

    specs = specs if specs is not None else (small_specs() if small else full_specs())
    estate = Estate(accounts=ACCOUNTS, regions=list(REGIONS), functions=specs, small=small)
    cfg = Config(retries={"max_attempts": 2, "mode": "standard"})
    sessions: dict[tuple[str, str], Any] = {}
    roles: dict[str, str] = {}
    for spec in specs:
        key = (spec.account, spec.region)
        if key not in sessions:
            sessions[key] = session_for(endpoint, spec.account, spec.region)
        sess = sessions[key]
        client = lambda svc: sess.client(svc, endpoint_url=endpoint, config=cfg)  # noqa: E731
        if spec.account not in roles:
            iam = client("iam")
            trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
                "Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            try:
                roles[spec.account] = iam.create_role(RoleName="lambda-exec", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
            except iam.exceptions.EntityAlreadyExistsException:
                roles[spec.account] = iam.get_role(RoleName="lambda-exec")["Role"]["Arn"]
            ro_trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {
                "AWS": f"arn:aws:iam::{PROD_ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]})
            try:
                iam.create_role(RoleName=READONLY_ROLE_NAME, AssumeRolePolicyDocument=ro_trust)
            except Exception:
                pass
        _seed_function(spec, client, roles[spec.account], estate)
    _register(endpoint, estate)
    return estate


def _queue(sqs: Any, name: str, estate: Estate, spec: FunctionSpec, role: str, attrs: dict[str, str] | None = None) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attrs or {})["QueueUrl"]
    arn = f"arn:aws:sqs:{spec.region}:{spec.account}:{name}"
    entry = {"account": spec.account, "region": spec.region, "name": name, "url": url, "arn": arn,
             "role": role, "function": spec.name}
    if entry not in estate.queues:
        estate.queues.append(entry)
    return url, arn


def _seed_function(spec: FunctionSpec, client: Any, role_arn: str, estate: Estate) -> None:
    lam, sqs = client("lambda"), client("sqs")
    create: dict[str, Any] = dict(
        FunctionName=spec.name, Runtime=spec.runtime, Role=role_arn, Handler=_handler(spec.runtime),
        Code={"ZipFile": _zip(spec.runtime)}, MemorySize=spec.memory, Timeout=spec.timeout,
        Architectures=[spec.arch], Description=f"{spec.service} ({spec.kind})",
        Tags={"team": spec.team, "service": spec.service, "env": spec.env},
        TracingConfig={"Mode": "Active"},
        Environment={"Variables": {"SERVICE": spec.service, "BUILD": "1"}},
    )
    if spec.log_format == "json":
        create["LoggingConfig"] = {"LogFormat": "JSON"}
    dlq_arn = None
    if spec.kind == "async" and spec.dlq:
        _url, dlq_arn = _queue(sqs, spec.dlq, estate, spec, "lambda-dlq")
        create["DeadLetterConfig"] = {"TargetArn": dlq_arn}
    try:
        lam.create_function(**create)
    except lam.exceptions.ResourceConflictException:
        _remember_queues(spec, sqs, estate, role_arn)
        return  # seeded before: leave it as it is
    for v in range(1, spec.versions + 1):
        if v > 1:
            lam.update_function_configuration(FunctionName=spec.name,
                                              Environment={"Variables": {"SERVICE": spec.service, "BUILD": str(v)}})
        lam.publish_version(FunctionName=spec.name, Description=f"build {v}")
    for alias, conf in spec.aliases.items():
        kw: dict[str, Any] = dict(FunctionName=spec.name, Name=alias, FunctionVersion=conf["version"])
        if conf.get("weights"):
            kw["RoutingConfig"] = {"AdditionalVersionWeights": conf["weights"]}
        lam.create_alias(**kw)
    if spec.reserved:
        lam.put_function_concurrency(FunctionName=spec.name, ReservedConcurrentExecutions=spec.reserved)
    if spec.provisioned and spec.traffic_alias:
        lam.put_provisioned_concurrency_config(FunctionName=spec.name, Qualifier=spec.traffic_alias,
                                               ProvisionedConcurrentExecutions=spec.provisioned)
    if spec.kind == "sqs" and spec.source_queue and spec.dlq:
        _dl_url, dl_arn = _queue(sqs, spec.dlq, estate, spec, "dlq")
        _src_url, src_arn = _queue(sqs, spec.source_queue, estate, spec, "source", {
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dl_arn, "maxReceiveCount": "3"}),
            "VisibilityTimeout": str(max(30, spec.timeout * 6))})
        lam.create_event_source_mapping(EventSourceArn=src_arn, FunctionName=spec.name, BatchSize=10,
                                        Enabled=True)
    if spec.kind == "async":
        dest: dict[str, Any] = {}
        if spec.on_failure:
            _u, of_arn = _queue(sqs, spec.on_failure, estate, spec, "on-failure")
            dest = {"OnFailure": {"Destination": of_arn}}
        lam.put_function_event_invoke_config(FunctionName=spec.name, MaximumRetryAttempts=2,
                                             MaximumEventAgeInSeconds=21600, DestinationConfig=dest)
    if spec.kind == "stream" and spec.stream_table:
        ddb = client("dynamodb")
        try:
            table = ddb.create_table(
                TableName=spec.stream_table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
            stream_arn = table["TableDescription"]["LatestStreamArn"]
            lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=spec.name, BatchSize=100,
                                            StartingPosition="LATEST", Enabled=True)
        except Exception:
            pass  # the stream mapping is decoration; IteratorAge metrics do not depend on it
    logs = client("logs")
    try:
        logs.create_log_group(logGroupName=f"/aws/lambda/{spec.name}")
    except logs.exceptions.ResourceAlreadyExistsException:
        pass


def _remember_queues(spec: FunctionSpec, sqs: Any, estate: Estate, role_arn: str) -> None:
    """Re-seeding: describe the queues that already exist instead of creating them."""
    for name, role in ((spec.dlq, "lambda-dlq" if spec.kind == "async" else "dlq"), (spec.source_queue, "source"),
                       (spec.on_failure, "on-failure")):
        if name:
            _queue(sqs, name, estate, spec, role)


def _register(endpoint: str, estate: Estate) -> None:
    import urllib.request

    req = urllib.request.Request(f"{endpoint}/_sandbox/estate", data=json.dumps(estate.to_json()).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    urllib.request.urlopen(req, timeout=30).read()


def fetch_estate(endpoint: str | None = None) -> Estate | None:
    import urllib.request

    endpoint = endpoint or default_endpoint()
    data = json.loads(urllib.request.urlopen(f"{endpoint}/_sandbox/estate", timeout=30).read())
    return Estate.from_json(data) if data else None
