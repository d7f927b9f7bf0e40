"""Config models: strict, frozen, TOML; every bad value named with its field, value and rule."""

from decimal import Decimal

import pytest

from liqkit.domain.config import PairConfig, load_config, parse_config, update_pair
from liqkit.domain.errors import ConfigError

GOOD = """
[engine]
venue = "sim"
state_dir = "state"

[engine.risk]
stale_feed_s = 3
max_loss = 50

[sim]
fill_model = "trade-through"
latency_ms = 5

[pairs.BTCUSDT]
reference = "touch"
spread = "2ticks"
levels = 2
level_spacing = "3 ticks"
size = "25"
size_unit = "quote"
refresh_tolerance = "1.5bps"
skew = "0.5"
max_inventory = "0.2"

[pairs.ethusdt]
bid_spread = "8bps"
ask_spread = "12bps"
"""


def test_load_a_full_file(tmp_path):
    f = tmp_path / "liqkit.toml"
    f.write_text(GOOD)
    cfg = load_config(f)
    btc, eth = cfg.pairs["BTCUSDT"], cfg.pairs["ETHUSDT"]
    assert str(btc.bid_spread) == "2ticks" and str(btc.level_spacing) == "3ticks"
    assert btc.size == Decimal(25) and btc.size_unit == "quote"
    assert str(btc.refresh_tolerance) == "1.5bps"
    assert eth.symbol == "ETHUSDT" and str(eth.ask_spread) == "12bps"
    assert cfg.engine.risk.max_loss == Decimal(50) and cfg.sim.latency_ms == 5
    with pytest.raises(Exception, match="frozen"):
        btc.levels = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[pairs.BTCUSDT]\nspread = "-5bps"', "pairs.BTCUSDT.bid_spread = '-5bps': '-5bps' is negative"),
        ("[pairs.BTCUSDT]\nlevels = 0", "pairs.BTCUSDT.levels = 0: Input should be greater than or equal to 1"),
        ("[pairs.BTCUSDT]\nsprad = '5bps'", "pairs.BTCUSDT.sprad: unknown key"),
        ('[pairs.BTCUSDT]\nsize = "-1"', "pairs.BTCUSDT.size = '-1'"),
        ('[pairs.BTCUSDT]\nreference = "last"', "pairs.BTCUSDT.reference = 'last'"),
        ('[pairs.BTCUSDT]\nspread = "10 pips"', "is not a distance: write e.g. '10bps' or '2ticks'"),
        ('[pairs.BTC-USDT]\nspread = "10bps"', "not a Binance symbol"),
        ("[pairs.BTCUSDT]\ninventory_target = 1.5", "inventory_target = 1.5"),
        (
            "[pairs.BTCUSDT]\nprice_floor = 70000\nprice_ceiling = 60000",
            "price_floor 70000 must be below price_ceiling",
        ),
        ('[engine]\nvenue = "binance-live"', "allow_live = true"),
        ('[engine]\nvenue = "kraken"', "engine.venue = 'kraken'"),
        ("[sim.balances]\nUSDT = -3", "balance of USDT is -3"),
        ("[pairs.BTCUSDT\nspread=1", "is not valid TOML"),
    ],
)
def test_bad_values_name_field_value_and_rule(tmp_path, text, expected):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(f)
    assert expected in str(e.value)
    assert str(f) in str(e.value)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "nope.toml")


def test_update_pair_validates_and_leaves_the_original():
    cfg = PairConfig(symbol="BTCUSDT")
    new = update_pair(cfg, {"bid_spread": "3ticks", "levels": 2})
    assert str(new.bid_spread) == "3ticks" and new.levels == 2 and cfg.levels == 1
    with pytest.raises(ConfigError, match=r"pairs\.BTCUSDT\.levels = 99"):
        update_pair(cfg, {"levels": 99})
    with pytest.raises(ConfigError, match="cannot change a pair's symbol"):
        update_pair(cfg, {"symbol": "ETHUSDT"})


def test_round_trip_through_json():
    cfg = parse_config({"pairs": {"BTCUSDT": {"spread": "4bps", "max_loss": 10}}})
    dumped = cfg.model_dump(mode="json")
    assert dumped["pairs"]["BTCUSDT"]["bid_spread"] == "4bps"
    assert parse_config(dumped) == cfg


def test_update_pair_spread_sets_both_sides_unless_one_is_given():
    cfg = PairConfig(symbol="BTCUSDT", bid_spread="3bps", ask_spread="4bps")
    both = update_pair(cfg, {"spread": "5bps"})
    assert (str(both.bid_spread), str(both.ask_spread)) == ("5bps", "5bps")
    one = update_pair(cfg, {"spread": "5bps", "ask_spread": "7bps"})
    assert (str(one.bid_spread), str(one.ask_spread)) == ("5bps", "7bps")
    with pytest.raises(ConfigError, match=r"bid_spread = '-1bps': '-1bps' is negative"):
        update_pair(cfg, {"spread": "-1bps"})
