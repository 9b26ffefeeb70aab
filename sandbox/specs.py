"""The functions of the simulated estate: a small set for fast tests and the full demo set."""

from __future__ import annotations

from .estate import PROD_ACCOUNT_ID, REGIONS, STAGING_ACCOUNT_ID, FunctionSpec

P, S = PROD_ACCOUNT_ID, STAGING_ACCOUNT_ID
E1, W1 = REGIONS


def small_specs() -> list[FunctionSpec]:
    return [
        FunctionSpec("orders-api", P, E1, "python3.12", 512, 10, "arm64", "api", rate=30, error_rate=0.01,
                     duration_ms=80, versions=2, aliases={"live": {"version": "1", "weights": {"2": 0.1}}},
                     traffic_alias="live", provisioned=2, team="orders", service="orders"),
        FunctionSpec("payments-worker", P, E1, "nodejs20.x", 1024, 30, "x86_64", "sqs", rate=12, error_rate=0.05,
                     duration_ms=300, source_queue="payments-queue", dlq="payments-dlq", reserved=20,
                     team="payments", service="payments"),
        FunctionSpec("email-sender", P, E1, "python3.12", 256, 60, "x86_64", "async", rate=6, error_rate=0.08,
                     duration_ms=400, dlq="email-sender-dlq", on_failure="email-sender-failures",
                     log_format="json", team="growth", service="notifications"),
        FunctionSpec("report-builder", P, W1, "java21", 2048, 300, "x86_64", "cron", rate=0.2, error_rate=0.0,
                     duration_ms=9000, init_ms=2500, cold_rate=0.6, team="analytics", service="reports"),
        FunctionSpec("clickstream-ingest", P, W1, "provided.al2023", 256, 60, "arm64", "stream", rate=8,
                     error_rate=0.002, duration_ms=25, stream_table="clicks", team="analytics",
                     service="clickstream"),
        FunctionSpec("orders-api", S, E1, "python3.12", 512, 10, "arm64", "api", rate=4, error_rate=0.02,
                     duration_ms=90, versions=1, aliases={"live": {"version": "1"}}, traffic_alias="live",
                     team="orders", service="orders", env="staging"),
    ]


def full_specs() -> list[FunctionSpec]:
    specs = [
        # prod / us-east-1
        FunctionSpec("checkout-api", P, E1, "python3.12", 1024, 15, "arm64", "api", rate=30, error_rate=0.004,
                     duration_ms=140, versions=8, aliases={"live": {"version": "7", "weights": {"8": 0.1}},
                                                           "canary": {"version": "8"}},
                     traffic_alias="live", reserved=200, provisioned=10, team="checkout", service="checkout"),
        FunctionSpec("cart-api", P, E1, "nodejs20.x", 512, 10, "arm64", "api", rate=22, error_rate=0.006,
                     duration_ms=60, versions=3, aliases={"live": {"version": "3"}}, traffic_alias="live",
                     team="checkout", service="cart"),
        FunctionSpec("catalog-search", P, E1, "java21", 2048, 30, "x86_64", "api", rate=18, error_rate=0.002,
                     duration_ms=220, init_ms=3200, cold_rate=0.01, versions=4,
                     aliases={"live": {"version": "4"}}, traffic_alias="live", team="catalog", service="search"),
        FunctionSpec("auth-authorizer", P, E1, "provided.al2023", 128, 3, "arm64", "api", rate=40,
                     error_rate=0.001, duration_ms=8, duration_sigma=0.4, init_ms=40, team="identity",
                     service="auth"),
        FunctionSpec("payments-worker", P, E1, "nodejs20.x", 1024, 60, "x86_64", "sqs", rate=20, error_rate=0.02,
                     duration_ms=350, source_queue="payments-queue", dlq="payments-dlq", reserved=25,
                     versions=2, aliases={"live": {"version": "2"}}, traffic_alias="live",
                     team="payments", service="payments"),
        FunctionSpec("inventory-sync", P, E1, "python3.12", 512, 120, "x86_64", "sqs", rate=10, error_rate=0.01,
                     duration_ms=900, source_queue="inventory-queue", dlq="inventory-dlq", log_format="json",
                     team="catalog", service="inventory"),
        FunctionSpec("order-events-stream", P, E1, "python3.12", 256, 60, "arm64", "stream", rate=15,
                     error_rate=0.003, duration_ms=45, stream_table="orders", team="orders", service="orders"),
        FunctionSpec("email-sender", P, E1, "python3.12", 256, 60, "x86_64", "async", rate=8, error_rate=0.03,
                     duration_ms=500, dlq="email-sender-dlq", on_failure="email-sender-failures",
                     log_format="json", team="growth", service="notifications"),
        FunctionSpec("webhook-dispatcher", P, E1, "nodejs20.x", 256, 30, "arm64", "async", rate=12,
                     error_rate=0.02, duration_ms=700, duration_sigma=0.8, dlq="webhook-dlq",
                     team="platform", service="webhooks"),
        FunctionSpec("image-resizer", P, E1, "python3.12", 3008, 900, "x86_64", "async", rate=3, error_rate=0.01,
                     duration_ms=4200, init_ms=900, on_failure="image-resizer-failures", reserved=5,
                     team="media", service="images"),
        FunctionSpec("nightly-ledger-export", P, E1, "java21", 1536, 900, "x86_64", "cron", rate=0.05,
                     error_rate=0.0, duration_ms=120000, init_ms=2800, cold_rate=0.9, team="finance",
                     service="ledger"),
        FunctionSpec("feature-flags", P, E1, "provided.al2023", 128, 3, "arm64", "api", rate=12,
                     error_rate=0.0005, duration_ms=4, duration_sigma=0.3, init_ms=30, team="platform",
                     service="flags"),
        FunctionSpec("legacy-soap-bridge", P, E1, "java21", 3008, 29, "x86_64", "api", rate=0.0, error_rate=0.1,
                     duration_ms=1500, init_ms=4000, team="platform", service="legacy"),
        FunctionSpec("user-profile-api", P, E1, "nodejs20.x", 512, 6, "arm64", "api", rate=20, error_rate=0.008,
                     duration_ms=95, versions=5, aliases={"live": {"version": "5"}, "previous": {"version": "4"}},
                     traffic_alias="live", team="identity", service="profiles"),
        # prod / eu-west-1
        FunctionSpec("checkout-api", P, W1, "python3.12", 1024, 15, "arm64", "api", rate=14, error_rate=0.004,
                     duration_ms=150, versions=7, aliases={"live": {"version": "7"}}, traffic_alias="live",
                     team="checkout", service="checkout"),
        FunctionSpec("payments-worker", P, W1, "nodejs20.x", 1024, 60, "x86_64", "sqs", rate=8, error_rate=0.03,
                     duration_ms=380, source_queue="payments-queue", dlq="payments-dlq", team="payments",
                     service="payments"),
        FunctionSpec("gdpr-eraser", P, W1, "python3.12", 512, 900, "x86_64", "async", rate=0.5, error_rate=0.05,
                     duration_ms=15000, dlq="gdpr-eraser-dlq", team="privacy", service="gdpr"),
        FunctionSpec("clickstream-ingest", P, W1, "provided.al2023", 256, 60, "arm64", "stream", rate=15,
                     error_rate=0.001, duration_ms=25, stream_table="clicks", team="analytics",
                     service="clickstream"),
        FunctionSpec("pricing-api", P, W1, "java21", 2048, 10, "arm64", "api", rate=15, error_rate=0.003,
                     duration_ms=110, init_ms=2900, versions=3, aliases={"live": {"version": "2", "weights": {"3": 0.25}}},
                     traffic_alias="live", reserved=50, provisioned=5, team="catalog", service="pricing"),
        FunctionSpec("report-builder", P, W1, "java21", 2048, 300, "x86_64", "cron", rate=0.2, error_rate=0.02,
                     duration_ms=9000, init_ms=2500, cold_rate=0.6, team="analytics", service="reports"),
        # staging / us-east-1
        FunctionSpec("checkout-api", S, E1, "python3.12", 1024, 15, "arm64", "api", rate=5, error_rate=0.02,
                     duration_ms=160, versions=9, aliases={"live": {"version": "9"}}, traffic_alias="live",
                     env="staging", team="checkout", service="checkout"),
        FunctionSpec("cart-api", S, E1, "nodejs20.x", 512, 10, "arm64", "api", rate=4, error_rate=0.03,
                     duration_ms=70, env="staging", team="checkout", service="cart"),
        FunctionSpec("payments-worker", S, E1, "nodejs20.x", 1024, 60, "x86_64", "sqs", rate=3, error_rate=0.08,
                     duration_ms=380, source_queue="payments-queue", dlq="payments-dlq", env="staging",
                     team="payments", service="payments"),
        FunctionSpec("email-sender", S, E1, "python3.12", 256, 60, "x86_64", "async", rate=2, error_rate=0.1,
                     duration_ms=520, dlq="email-sender-dlq", log_format="json", env="staging", team="growth",
                     service="notifications"),
        FunctionSpec("load-test-target", S, E1, "provided.al2023", 128, 5, "arm64", "api", rate=0.0,
                     error_rate=0.0, duration_ms=5, env="staging", team="platform", service="loadtest"),
        FunctionSpec("data-migrator", S, E1, "python3.12", 3008, 900, "x86_64", "cron", rate=0.1, error_rate=0.2,
                     duration_ms=240000, duration_sigma=0.2, env="staging", team="platform", service="migrations"),
        # staging / eu-west-1
        FunctionSpec("checkout-api", S, W1, "python3.12", 1024, 15, "arm64", "api", rate=2, error_rate=0.02,
                     duration_ms=170, versions=2, aliases={"live": {"version": "2"}}, traffic_alias="live",
                     env="staging", team="checkout", service="checkout"),
        FunctionSpec("clickstream-ingest", S, W1, "provided.al2023", 256, 60, "arm64", "stream", rate=4,
                     error_rate=0.005, duration_ms=30, stream_table="clicks", env="staging", team="analytics",
                     service="clickstream"),
        FunctionSpec("gdpr-eraser", S, W1, "python3.12", 512, 900, "x86_64", "async", rate=0.2, error_rate=0.1,
                     duration_ms=14000, dlq="gdpr-eraser-dlq", env="staging", team="privacy", service="gdpr"),
        FunctionSpec("pricing-api", S, W1, "java21", 2048, 10, "arm64", "api", rate=1.5, error_rate=0.01,
                     duration_ms=120, init_ms=3000, env="staging", team="catalog", service="pricing"),
    ]
    # A healthy estate: most failed events succeed on a retry, so its DLQs grow by a message
    # now and then, not every minute (the dlq-flood scenario sends every failure).
    for spec in specs:
        if spec.kind in ("sqs", "async"):
            spec.dead_letter_share = 0.02
    return specs


# -- seeding over the AWS APIs ---------------------------------------------------------------------------
