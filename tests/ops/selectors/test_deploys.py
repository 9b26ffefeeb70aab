"""The rollback target comes from the alias's own history, whatever the precision of each row's time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from ops.models import AliasChangeSource, DeployDating
from ops.selectors.deploys import alias_last_move, alias_previous_version
from tests.factories import AliasChangeFactory, AliasFactory

pytestmark = pytest.mark.django_db


def test_a_move_dated_to_the_second_before_the_first_sighting_in_that_second_still_names_the_version_before():
    # First seen at hh:mm:40.600 on v1; CloudTrail dates the move to v3 made 0.2 s later hh:mm:40.
    seen = timezone.now().replace(microsecond=600_000) - timedelta(minutes=5)
    alias = AliasFactory(name="live", version="3")
    AliasChangeFactory(alias=alias, at=seen, from_version="", to_version="1", source=AliasChangeSource.CREATED)
    move = AliasChangeFactory(alias=alias, at=seen.replace(microsecond=0), from_version="1", to_version="3",
                              source=AliasChangeSource.CLOUDTRAIL, dated_by=DeployDating.CLOUDTRAIL)
    assert alias_previous_version(alias=alias) == ("1", move)
    assert alias_last_move(alias=alias) == move


def test_history_that_disagrees_with_the_alias_names_no_target():
    alias = AliasFactory(name="live", version="4")  # moved to 4 since the last recorded move
    AliasChangeFactory(alias=alias, at=timezone.now() - timedelta(minutes=3), from_version="1", to_version="3")
    assert alias_previous_version(alias=alias) == ("", None)
