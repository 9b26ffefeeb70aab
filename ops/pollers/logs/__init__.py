"""The logs poller: REPORT and error lines from /aws/lambda/NAME → MinuteStat and error groups.

poll (the run), parse (one line → a record: pure), store (a window's aggregates → rows),
cursor (where each log group's next window starts).
"""

from ops.pollers.logs.poll import logs_poll

__all__ = ["logs_poll"]
