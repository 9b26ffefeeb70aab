"""ops.timefmt: every instant is converted to UTC before it is written out."""

from datetime import UTC, timedelta, timezone

from ops.timefmt import iso_utc, minute_utc
from tests.clock import hours_ago


def test_an_offset_time_is_written_as_the_same_instant_in_utc():
    at = hours_ago(3)
    local = at.astimezone(timezone(timedelta(hours=2)))
    assert local.hour != at.hour  # the wall times differ; the instant is the same
    assert iso_utc(local) == iso_utc(at) == at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert minute_utc(local) == minute_utc(at) == at.strftime("%Y-%m-%d %H:%M UTC")
    assert iso_utc(None) is None
    assert at.tzinfo == UTC
