"""What the product's own AWS calls cost (estimates, US East list prices, read 2026-11).

- CloudWatch GetMetricData: $0.01 per 1,000 metrics requested (each query in each call;
  research/perf-reliability-facts.md §1). Other CloudWatch API requests (GetMetricStatistics,
  ListMetrics, …): $0.01 per 1,000 requests.
- CloudWatch Logs Insights: $0.005 per GB scanned (GB taken as 10^9 bytes, the higher
  estimate). Other Logs API reads (FilterLogEvents, GetQueryResults, …): not priced per
  request by AWS; counted, priced at $0.
- X-Ray: $0.50 per million traces retrieved or scanned (BatchGetTraces counts its trace ids;
  GetTraceSummaries the TracesProcessedCount of each answer, recorded by ops.aws.xray as units
  learnt from the response; a call whose answer gave no count is priced as one trace).
- SQS: $0.40 per million requests (first million per month free, ignored here: the product
  shares the account's free tier with the workloads). Lambda and STS control-plane reads: free.
"""

from __future__ import annotations

CW_PER_METRIC = 0.01 / 1000
CW_PER_REQUEST = 0.01 / 1000
INSIGHTS_PER_GB = 0.005
XRAY_PER_TRACE = 0.50 / 1_000_000
SQS_PER_REQUEST = 0.40 / 1_000_000


def api_call_cost(*, service: str, operation: str, calls: int, units: int = 0, bytes_scanned: float = 0.0) -> float:
    """Estimated USD for ``calls`` of ``service:operation`` (units: metrics requested / traces)."""
    if service == "cloudwatch":
        return units * CW_PER_METRIC if operation == "GetMetricData" else calls * CW_PER_REQUEST
    if service == "logs":
        return bytes_scanned / 1e9 * INSIGHTS_PER_GB
    if service == "xray":
        # bytes_scanned holds the traces scanned that a response reported (GetTraceSummaries).
        return ((units + bytes_scanned) or calls) * XRAY_PER_TRACE
    if service == "sqs":
        return calls * SQS_PER_REQUEST
    return 0.0

