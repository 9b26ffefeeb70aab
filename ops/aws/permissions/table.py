"""Every AWS API call the product makes, as a row: the IAM action it needs, where that action can
be scoped, which policy grants it, which feature needs it, what the product does without it, and
the cheap call that checks it.

The policies (``manage.py iam-policy``), the CloudFormation template (``manage.py iam-template``)
and the permission check all read this table, and tests/ops/aws/test_permissions.py fails when
ops/aws calls an operation that has no row here — so a new call is one new line below.

``pending`` names the branch whose code will make the call when a row is declared ahead of it
(the DLQ, action and trace work): such a row is in the policies already, and the coverage test
does not yet insist that ops/aws calls it. Once that code is merged, the test asks for the mark to
be dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

READ_ONLY = "read-only"
OPERATOR = "operator"
# The identity the product runs as (its instance or task role), not the monitored account's role.
ASSUMER = "assumer"
POLICIES = (READ_ONLY, OPERATOR, ASSUMER)

# Resource patterns; {partition}, {region} and {account} are filled in by ops.aws.permissions.policy
# (a plain policy, or CloudFormation's ${AWS::Partition} / ${AWS::AccountId}).
ANY = "*"  # the action has no resource type (List*, GetMetricData, LookupEvents, X-Ray reads)
FUNCTION = "arn:{partition}:lambda:{region}:{account}:function:*"
# Alias and version ARNs are "function:NAME:QUALIFIER"; UpdateAlias and GetAlias are authorised on them.
FUNCTION_QUALIFIED = "arn:{partition}:lambda:{region}:{account}:function:*:*"
ESM = "arn:{partition}:lambda:{region}:{account}:event-source-mapping:*"
LAMBDA_LOGS = "arn:{partition}:logs:{region}:{account}:log-group:/aws/lambda/*"
LOG_GROUPS = "arn:{partition}:logs:{region}:{account}:log-group:*"
QUEUE = "arn:{partition}:sqs:{region}:{account}:*"
ROLE = "arn:{partition}:iam::*:role/LambdaOps*"

# Features, as the permission table names them.
INVENTORY = "inventory"
METRICS = "metrics"
LOGS = "logs"
CHANGES = "deploy history"
TRACES = "traces"
DLQ_READ = "DLQ browsing"
DLQ_WRITE = "DLQ redrive"
ROLLBACK = "alias rollback and canary"
CONTROLS = "emergency controls"
ACCESS = "account access"

# Job kinds (ops.models.choices.JobKind values) that need a row's permission; a denied one is
# shown disabled with the reason (ops.selectors.permissions.permission_denied_reason).
POLL = ("poll.inventory",)
DLQ_MOVE = ("dlq.move",)
DLQ_LOOP = ("dlq.redrive",)
DLQ_DELETE = ("dlq.delete",)
DLQ_PURGE = ("dlq.purge",)
ALIAS = ("alias.rollback", "alias.canary_finish", "alias.canary_abort")
CONCURRENCY = ("function.throttle", "function.unthrottle", "function.concurrency")
ESM_KINDS = ("esm.disable", "esm.enable")


@dataclass(frozen=True)
class Permission:
    service: str  # boto3's service name
    operation: str  # the API operation, as ops/aws calls it
    action: str  # the IAM action that authorises it (SendMessageBatch → sqs:SendMessage)
    policy: str  # READ_ONLY | OPERATOR | ASSUMER
    resource: str  # where AWS lets it be scoped (ANY when it cannot)
    feature: str
    without: str  # what the product does without it, in one sentence
    # The check: the operation's own call with harmless parameters (a probe name no real
    # resource has, a one-minute window); None when the call is its own check (AssumeRole).
    probe: dict | None = None
    kinds: tuple[str, ...] = ()
    pending: str = ""  # the branch that will call it, when not yet ops/aws (see the docstring)
    also: tuple[str, ...] = field(default=())  # more IAM actions the call needs (a move task)

    @property
    def key(self) -> str:
        return f"{self.service}:{self.operation}"


def P(*args, **kwargs) -> Permission:  # noqa: N802 - one short line per row reads as a table
    return Permission(*args, **kwargs)


# Probe parameters: "{probe}" is a random name no real function, queue or group has (a new one
# per check, so a write probe can never touch anything); "{probe_arn}" / "{queue_url}" /
# "{queue_arn}" / "{uuid}" likewise; "{start}" / "{end}" a one-minute window ending now.
_FN = {"FunctionName": "{probe}"}
_Q = {"QueueUrl": "{queue_url}"}

PERMISSIONS: tuple[Permission, ...] = (
    # --- access: the product's own identity assumes each account's role ---------------------------
    P("sts", "AssumeRole", "sts:AssumeRole", ASSUMER, ROLE, ACCESS,
      "nothing in this account is read: every page for it stays empty and every check is not run"),
    # --- inventory --------------------------------------------------------------------------------
    P("lambda", "ListFunctions", "lambda:ListFunctions", READ_ONLY, ANY, INVENTORY,
      "no functions are listed for this account and region, so nothing else is polled",
      {"MaxItems": 1}, POLL),
    P("lambda", "ListVersionsByFunction", "lambda:ListVersionsByFunction", READ_ONLY, FUNCTION, INVENTORY,
      "versions are unknown: no per-version error rates, no rollback target", {**_FN, "MaxItems": 1}, POLL),
    P("lambda", "ListAliases", "lambda:ListAliases", READ_ONLY, FUNCTION, INVENTORY,
      "aliases and their weights are unknown: no deploy markers, no rollback", {**_FN, "MaxItems": 1}, POLL),
    P("lambda", "ListTags", "lambda:ListTags", READ_ONLY, FUNCTION, INVENTORY,
      "functions have no tags, so tag filters and tag-scoped alerts match nothing",
      {"Resource": "{probe_arn}"}, POLL),
    P("lambda", "GetFunctionConfiguration", "lambda:GetFunctionConfiguration", READ_ONLY, FUNCTION, INVENTORY,
      "a change seen in CloudTrail waits for the next full inventory poll", _FN),
    P("lambda", "GetFunctionConcurrency", "lambda:GetFunctionConcurrency", READ_ONLY, FUNCTION, INVENTORY,
      "reserved concurrency is unknown: concurrency is shown against the account limit only", _FN,
      CONCURRENCY),
    P("lambda", "GetFunctionEventInvokeConfig", "lambda:GetFunctionEventInvokeConfig", READ_ONLY, FUNCTION, INVENTORY,
      "on-failure destinations are unknown, so their DLQs are not found", _FN),
    P("lambda", "ListProvisionedConcurrencyConfigs", "lambda:ListProvisionedConcurrencyConfigs", READ_ONLY, FUNCTION,
      INVENTORY, "provisioned concurrency is unknown (shown as none)", _FN),
    P("lambda", "ListEventSourceMappings", "lambda:ListEventSourceMappings", READ_ONLY, ANY, INVENTORY,
      "event sources are unknown: no iterator-age context, no event-source DLQs", {"MaxItems": 1}),
    P("lambda", "GetAccountSettings", "lambda:GetAccountSettings", READ_ONLY, ANY, INVENTORY,
      "region headroom has no account concurrency limit", {}),
    P("sqs", "GetQueueUrl", "sqs:GetQueueUrl", READ_ONLY, QUEUE, INVENTORY,
      "DLQs are not found, so their depth is not shown", {"QueueName": "{probe}"}),
    P("sqs", "GetQueueAttributes", "sqs:GetQueueAttributes", READ_ONLY, QUEUE, INVENTORY,
      "DLQ depth, age and redrive policies are unknown", {**_Q, "AttributeNames": ["QueueArn"]}),
    # --- telemetry --------------------------------------------------------------------------------
    P("cloudwatch", "GetMetricData", "cloudwatch:GetMetricData", READ_ONLY, ANY, METRICS,
      "no invocations, errors, throttles or durations: the product cannot tell what is on fire",
      {"MetricDataQueries": [{"Id": "probe", "MetricStat": {"Metric": {"Namespace": "AWS/Lambda",
       "MetricName": "Invocations"}, "Period": 60, "Stat": "Sum"}}], "StartTime": "{start}", "EndTime": "{end}"}),
    P("logs", "DescribeLogGroups", "logs:DescribeLogGroups", READ_ONLY, LOG_GROUPS, LOGS,
      "every function's log group is read with FilterLogEvents, one call each",
      {"logGroupNamePrefix": "/aws/lambda/{probe}", "limit": 1}),
    P("logs", "FilterLogEvents", "logs:FilterLogEvents", READ_ONLY, LAMBDA_LOGS, LOGS,
      "without Logs Insights too: no cold starts, memory use, billed duration or error lines",
      {"logGroupName": "/aws/lambda/{probe}", "limit": 1}),
    P("logs", "StartQuery", "logs:StartQuery", READ_ONLY, LAMBDA_LOGS, LOGS,
      "logs are read with FilterLogEvents, one call per log group (slower, more calls)",
      {"logGroupNames": ["/aws/lambda/{probe}"], "startTime": "{start_s}", "endTime": "{end_s}",
       "queryString": "fields @timestamp | limit 1"}),
    P("logs", "GetQueryResults", "logs:GetQueryResults", READ_ONLY, ANY, LOGS,
      "a Logs Insights query cannot be read back, so logs are read with FilterLogEvents",
      {"queryId": "{uuid}"}),
    P("cloudtrail", "LookupEvents", "cloudtrail:LookupEvents", READ_ONLY, ANY, CHANGES,
      "deploys are dated by ExecutedVersion (their first invocations), a minute late, with no actor",
      {"MaxResults": 1, "StartTime": "{start}", "EndTime": "{end}"}),
    P("xray", "GetTraceSummaries", "xray:GetTraceSummaries", READ_ONLY, ANY, TRACES,
      "no trace list on the function page", {"StartTime": "{start}", "EndTime": "{end}"}),
    P("xray", "BatchGetTraces", "xray:BatchGetTraces", READ_ONLY, ANY, TRACES,
      "no trace waterfall or cold-start segments", {"TraceIds": ["1-00000000-{hex24}"]}),
    # --- DLQ browsing (a peek is a receive, handed straight back) --------------------------------
    P("sqs", "ReceiveMessage", "sqs:ReceiveMessage", READ_ONLY, QUEUE, DLQ_READ,
      "DLQ messages cannot be browsed or grouped by error", {**_Q, "MaxNumberOfMessages": 1},
      DLQ_LOOP + DLQ_DELETE),
    P("sqs", "ChangeMessageVisibilityBatch", "sqs:ChangeMessageVisibility", READ_ONLY, QUEUE, DLQ_READ,
      "peeked messages stay invisible until their visibility timeout passes, so browsing is off",
      {**_Q, "Entries": [{"Id": "probe", "ReceiptHandle": "{probe}", "VisibilityTimeout": 0}]}),
    # --- operator: DLQ redrive, delete, purge -----------------------------------------------------
    P("sqs", "StartMessageMoveTask", "sqs:StartMessageMoveTask", OPERATOR, QUEUE, DLQ_WRITE,
      "an SQS-sourced DLQ is redriven message by message instead of by SQS's move task",
      {"SourceArn": "{queue_arn}"}, DLQ_MOVE,
      also=("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:SendMessage")),
    P("sqs", "ListMessageMoveTasks", "sqs:ListMessageMoveTasks", OPERATOR, QUEUE, DLQ_WRITE,
      "a move task's progress is not shown", {"SourceArn": "{queue_arn}", "MaxResults": 1}, DLQ_MOVE),
    P("sqs", "CancelMessageMoveTask", "sqs:CancelMessageMoveTask", OPERATOR, QUEUE, DLQ_WRITE,
      "a running move task cannot be cancelled from the job page", {"TaskHandle": "{probe}"}, DLQ_MOVE),
    P("sqs", "SendMessageBatch", "sqs:SendMessage", OPERATOR, QUEUE, DLQ_WRITE,
      "messages cannot be re-sent to their source queue",
      {**_Q, "Entries": [{"Id": "probe", "MessageBody": "probe"}]}, DLQ_LOOP),
    P("sqs", "DeleteMessageBatch", "sqs:DeleteMessage", OPERATOR, QUEUE, DLQ_WRITE,
      "redriven messages cannot be removed from the DLQ (so no redrive runs), nor deleted",
      {**_Q, "Entries": [{"Id": "probe", "ReceiptHandle": "{probe}"}]}, DLQ_LOOP + DLQ_DELETE),
    P("sqs", "PurgeQueue", "sqs:PurgeQueue", OPERATOR, QUEUE, DLQ_WRITE, "a DLQ cannot be purged", _Q, DLQ_PURGE),
    P("lambda", "Invoke", "lambda:InvokeFunction", OPERATOR, FUNCTION, DLQ_WRITE,
      "a Lambda async DLQ's events cannot be re-delivered by invoking the function",
      {**_FN, "InvocationType": "DryRun"}, DLQ_LOOP),
    # --- operator: aliases and emergency controls -------------------------------------------------
    P("lambda", "UpdateAlias", "lambda:UpdateAlias", OPERATOR, FUNCTION_QUALIFIED, ROLLBACK,
      "rollback, finish canary and abort canary are disabled",
      {**_FN, "Name": "probe", "FunctionVersion": "1"}, ALIAS),
    P("lambda", "GetAlias", "lambda:GetAlias", OPERATOR, FUNCTION_QUALIFIED, ROLLBACK,
      "a rollback cannot verify what the alias points to afterwards", {**_FN, "Name": "probe"}, ALIAS),
    P("lambda", "PutFunctionConcurrency", "lambda:PutFunctionConcurrency", OPERATOR, FUNCTION, CONTROLS,
      "throttle and set-reserved-concurrency are disabled", {**_FN, "ReservedConcurrentExecutions": 0},
      CONCURRENCY),
    P("lambda", "DeleteFunctionConcurrency", "lambda:DeleteFunctionConcurrency", OPERATOR, FUNCTION, CONTROLS,
      "a throttle cannot be undone from the product", _FN, ("function.unthrottle",)),
    P("lambda", "UpdateEventSourceMapping", "lambda:UpdateEventSourceMapping", OPERATOR, ESM, CONTROLS,
      "event sources cannot be disabled or enabled", {"UUID": "{uuid}", "Enabled": False}, ESM_KINDS),
    P("lambda", "GetPolicy", "lambda:GetPolicy", OPERATOR, FUNCTION, ROLLBACK,
      "the rollback confirm page cannot warn about permissions that invoke $LATEST or another alias",
      _FN, ALIAS),
    P("lambda", "GetEventSourceMapping", "lambda:GetEventSourceMapping", OPERATOR, ESM, CONTROLS,
      "an event source's state after disable/enable is not verified", {"UUID": "{uuid}"}, ESM_KINDS),
)

BY_KEY: dict[str, Permission] = {p.key: p for p in PERMISSIONS}


def actions_of(policy: str) -> list[str]:
    """The distinct IAM actions a policy grants, in table order."""
    out: list[str] = []
    for p in PERMISSIONS:
        if p.policy == policy:
            for a in (p.action, *p.also):
                if a not in out:
                    out.append(a)
    return out


def checked_actions() -> list[Permission]:
    """One row per distinct IAM action of the monitored account's policies, the row that checks it."""
    seen: dict[str, Permission] = {}
    for p in PERMISSIONS:
        if p.policy == ASSUMER:
            continue
        if p.action not in seen or (seen[p.action].probe is None and p.probe is not None):
            seen[p.action] = p
    return list(seen.values())


def features_of(action: str) -> list[Permission]:
    return [p for p in PERMISSIONS if p.action == action]


def actions_for_kind(kind: str) -> list[str]:
    """The IAM actions a job kind needs (its rows' ``kinds``), in table order."""
    return list(dict.fromkeys(p.action for p in PERMISSIONS if kind in p.kinds))
