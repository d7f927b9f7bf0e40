"""Which Binance the venue names talk to: testnet, Demo Mode, mainnet, a local server.

The URLs are python-binance's own (its testnet/demo flags); these tests check that each liqkit venue
name turns into the flags that give those URLs, without opening a connection.
"""

from __future__ import annotations

import asyncio

import pytest

from liqkit.domain.config import parse_config
from liqkit.domain.errors import ConfigError
from liqkit.venues.binance import BinanceVenue, client_class, socket_manager_class
from liqkit.venues.factory import make_venue


def urls(venue: BinanceVenue) -> tuple[str, str, str]:
    """(REST, WebSocket API, streams) the venue's python-binance client would use."""

    async def build() -> tuple[str, str, str]:
        cls = client_class(venue._base_url)
        client = cls("k", "s", **venue.client_mode())  # the constructor connects to nothing
        try:
            bsm = socket_manager_class(venue._base_url)(client)
            return client._create_api_uri("ping", False), client.ws_api._url, bsm._get_stream_url()
        finally:
            await client.close_connection()

    return asyncio.run(build())


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINANCE_API_KEY", "k" * 64)
    monkeypatch.setenv("BINANCE_API_SECRET", "s" * 64)


def test_binance_demo_is_demo_mode_everywhere(keys: None) -> None:
    cfg = parse_config({"engine": {"venue": "binance-demo"}, "pairs": {"BTCUSDT": {}}})
    v = make_venue(cfg, ["BTCUSDT"])
    assert isinstance(v, BinanceVenue)
    assert v.name == "binance-demo"
    rest, ws_api, streams = urls(v)
    assert rest.startswith("https://demo-api.binance.com/api/")
    assert ws_api.startswith("wss://demo-ws-api.binance.com/")
    assert streams.startswith("wss://demo-stream.binance.com")


def test_binance_testnet_stays_the_testnet(keys: None) -> None:
    v = make_venue(parse_config({"engine": {"venue": "binance-testnet"}, "pairs": {"BTCUSDT": {}}}), ["BTCUSDT"])
    assert v.name == "binance-testnet"
    rest, ws_api, streams = urls(v)  # type: ignore[arg-type]
    assert "testnet.binance.vision" in rest and "testnet" in ws_api and "testnet" in streams
    assert "demo" not in rest + ws_api + streams


def test_a_base_url_wins_over_demo_and_names_the_venue_local(keys: None) -> None:
    cfg = parse_config(
        {"engine": {"venue": "binance-demo", "base_url": "http://127.0.0.1:8790"}, "pairs": {"BTCUSDT": {}}}
    )
    v = make_venue(cfg, ["BTCUSDT"])
    assert v.name == "binance-local"
    rest, ws_api, streams = urls(v)  # type: ignore[arg-type]
    assert rest.startswith("http://127.0.0.1:8790/api/")
    assert ws_api.startswith("ws://127.0.0.1:8790/")
    assert streams.startswith("ws://127.0.0.1:8790/")


def test_demo_mode_needs_no_mainnet_opt_in_but_mainnet_does(keys: None) -> None:
    make_venue(parse_config({"engine": {"venue": "binance-demo"}, "pairs": {"BTCUSDT": {}}}), ["BTCUSDT"])
    with pytest.raises(ConfigError, match="allow_live"):
        parse_config({"engine": {"venue": "binance-live"}, "pairs": {"BTCUSDT": {}}})


def test_an_unknown_venue_name_lists_binance_demo() -> None:
    with pytest.raises(ConfigError) as e:
        parse_config({"engine": {"venue": "binance-dem"}, "pairs": {"BTCUSDT": {}}})
    assert "binance-demo" in str(e.value)
