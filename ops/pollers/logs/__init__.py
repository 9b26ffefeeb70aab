"""The logs poller: REPORT and error lines from /aws/lambda/NAME → MinuteStat and error groups.

poll (the run), insights (reading windows with Logs Insights), parse (one line → a record:
pure, bounded), errors (every runtime's error lines: pure), store (a window's aggregates → rows,
bad lines → quarantine), cursor (where each log group's next window starts).
"""

from ops.pollers.logs.poll import logs_poll

__all__ = ["logs_poll"]
