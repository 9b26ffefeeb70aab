"""factory_boy factories for the inventory (telemetry factories live beside their tests)."""

from __future__ import annotations

import factory
from django.contrib.auth.models import User
from django.utils import timezone

from ops.models import Account, Alias, Function, FunctionVersion, Role
from ops.services.users import user_create


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ("account_id",)

    name = factory.Sequence(lambda n: f"acct{n}")
    account_id = factory.Sequence(lambda n: f"{100000000000 + n}")
    regions = factory.LazyFunction(lambda: ["us-east-1"])


class FunctionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Function

    account = factory.SubFactory(AccountFactory)
    region = "us-east-1"
    name = factory.Sequence(lambda n: f"fn-{n:04d}")
    arn = factory.LazyAttribute(lambda o: f"arn:aws:lambda:{o.region}:{o.account.account_id}:function:{o.name}")
    runtime = "python3.12"
    memory_mb = 512
    timeout_s = 30
    architecture = "x86_64"
    tags = factory.LazyFunction(lambda: {"team": "core"})
    last_seen = factory.LazyFunction(timezone.now)


class VersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FunctionVersion

    function = factory.SubFactory(FunctionFactory)
    version = factory.Sequence(lambda n: str(n + 1))
    last_modified = factory.LazyFunction(timezone.now)


class AliasFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alias

    function = factory.SubFactory(FunctionFactory)
    name = "live"
    arn = factory.LazyAttribute(lambda o: f"{o.function.arn}:{o.name}")
    version = "1"
    last_seen = factory.LazyFunction(timezone.now)


def make_user(role: str = Role.VIEWER, username: str | None = None) -> User:
    return user_create(username=username or f"{role}-user", password="correct-horse-42", role=role)
