"""The WebSocket API reports rate-limit usage in each answer's ``rateLimits`` list, not in headers: the
venue's pacing reads it the same way."""

from liqkit.venues.ratelimit import RateLimits

INFO = {
    "rateLimits": [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
        {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
        {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
    ]
}


def test_ws_api_rate_limits_feed_the_same_usage_as_headers():
    now = [1_000_000.0]
    rl = RateLimits.from_exchange_info(INFO, clock=lambda: now[0])
    rl.observe_ws(
        [
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100, "count": 90},
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000, "count": 12},
            {"rateLimitType": "ORDERS", "interval": "HOUR", "intervalNum": 1, "limit": 9, "count": 9},  # not declared
            {"rateLimitType": "BOGUS", "interval": "FORTNIGHT", "count": 1},  # malformed: ignored
        ]
    )
    snap = rl.snapshot()
    assert snap["X-MBX-ORDER-COUNT-10S"] == {"used": 90, "limit": 100}
    assert snap["X-MBX-USED-WEIGHT-1M"] == {"used": 12, "limit": 6000}
    assert snap["X-MBX-ORDER-COUNT-1D"] == {"used": 0, "limit": 200000}
    delay, why = rl.order_delay()  # 90 % of the 10 s order limit: new orders are slowed
    assert delay > 0 and "X-MBX-ORDER-COUNT-10S at 90/100" in why
