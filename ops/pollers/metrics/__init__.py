"""The metrics poller: CloudWatch GetMetricData → MinuteStat / RegionStat / QueueStat.

poll (the run), plan (what to ask for and how often: pure), targets (one per function and one
for the scope), store (results → rows), cursor (where each target's next window starts).
"""

from ops.pollers.metrics.poll import metrics_poll

__all__ = ["metrics_poll"]
