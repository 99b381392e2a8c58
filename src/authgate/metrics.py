"""Prometheus metrics, defined once for the whole process."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REFRESHES = Counter("authgate_refreshes_total", "Token refresh attempts by outcome",
                    ["provider", "outcome"])
CLAIMS = Counter("authgate_refresh_claims_total",
                 "Refresh claims asked for: won, or lost to another refresher (wasted)",
                 ["result"])
TOKENS_SERVED = Counter("authgate_tokens_served_total", "Access tokens handed out", ["provider"])
PROXIED = Counter("authgate_proxy_requests_total", "API calls forwarded by the proxy",
                  ["provider", "status"])
SIGNINS = Counter("authgate_signins_total", "Sign-in attempts by result", ["provider", "result"])
REQUEST_SECONDS = Histogram("authgate_http_request_seconds", "HTTP request duration",
                            ["route"], buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5))
DELIVERIES = Counter("authgate_outbox_deliveries_total",
                     "Outbox delivery attempts (webhooks, messages) by outcome",
                     ["channel", "outcome"])
