"""Config models: strict, frozen, TOML; every bad value named with its field, value and rule."""

from decimal import Decimal

import pytest

from liqkit.domain.config import PairConfig, defaults_note, load_config, parse_config, update_pair
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
        ('[pairs.BTCUSDT]\nspread = "-5bps"', "pairs.BTCUSDT.spread = '-5bps': '-5bps' is negative"),
        ("[pairs.BTCUSDT]\nlevels = 0", "pairs.BTCUSDT.levels = 0: Input should be greater than or equal to 1"),
        ("[pairs.BTCUSDT]\nsprad = '5bps'", "pairs.BTCUSDT.sprad: unknown key"),
        ('[pairs.BTCUSDT]\nsize = "-1"', "pairs.BTCUSDT.size = '-1'"),
        ('[pairs.BTCUSDT]\nreference = "last"', "pairs.BTCUSDT.reference = 'last'"),
        ('[pairs.BTCUSDT]\nspread = "10 pips"', "spread = '10 pips': '10 pips': unit 'pips' is not bps or ticks"),
        (
            '[pairs.BTCUSDT]\nspread = "wide"',
            "spread = 'wide': 'wide' is not a distance: write e.g. '10bps' or '2ticks'",
        ),
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


def test_update_pair_spread_sets_both_sides_and_refuses_a_side_with_it():
    cfg = PairConfig(symbol="BTCUSDT", bid_spread="3bps", ask_spread="4bps")
    both = update_pair(cfg, {"spread": "5bps"})
    assert (str(both.bid_spread), str(both.ask_spread)) == ("5bps", "5bps")
    with pytest.raises(ConfigError, match=r"pairs\.BTCUSDT\.spread = '5bps': given together with ask_spread"):
        update_pair(cfg, {"spread": "5bps", "ask_spread": "7bps"})
    with pytest.raises(ConfigError, match=r"spread = '-1bps': '-1bps' is negative"):
        update_pair(cfg, {"spread": "-1bps"})
    assert update_pair(cfg, {"ask_spread": "7bps"}).bid_spread == cfg.bid_spread  # one side alone: fine


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"pairs": {"BTCUSDT": {"spread": "5bps", "bid_spread": "3bps"}}},
            "spread = '5bps': given together with bid_spread",
        ),
        ({"pairs": {"BTCUSDT": {"spread": "10pct"}}}, "spread = '10pct': '10pct': unit 'pct' is not bps or ticks"),
        ({"pairs": {"BTCUSDT": {"spread": 5}}}, "spread = 5: 5 is a bare number: give its unit"),
        ({"pairs": {"BTCUSDT": {"level_spacing": 2.5}}}, "level_spacing = 2.5: 2.5 is a bare number"),
        ({"pairs": {"BTCUSDT": {"min_spread": "3"}}}, "min_spread = '3': '3' has no unit"),
        ({"pairs": {"BTCUSDT": {"bid_spread": "-5bps"}}}, "bid_spread = '-5bps': '-5bps' is negative"),
    ],
)
def test_distances_name_the_field_and_the_accepted_forms(data, expected):
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    msg = str(e.value)
    assert expected in msg
    assert "given together" in expected or ("bps" in msg and "ticks" in msg)  # the accepted forms
    assert "^\\s*" not in msg  # never a raw regex


@pytest.mark.parametrize(
    ("data", "where", "some_valid"),
    [
        ({"nosuchkey": 1}, "nosuchkey: unknown key", "engine, sim, pairs"),
        ({"engine": {"nosuchkey": 1}}, "engine.nosuchkey: unknown key", "venue, state_dir"),
        ({"engine": {"risk": {"nosuchkey": 1}}}, "engine.risk.nosuchkey", "stale_feed_s, max_loss"),
        ({"sim": {"nosuchkey": 1}}, "sim.nosuchkey", "fill_model, maker_fee_bps"),
        ({"pairs": {"BTCUSDT": {"nosuchkey": 1}}}, "pairs.BTCUSDT.nosuchkey", "spread, bid_spread, ask_spread"),
    ],
)
def test_an_unknown_key_lists_the_valid_keys_of_its_table(data, where, some_valid):
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    assert where in str(e.value) and "valid keys here: " in str(e.value) and some_valid in str(e.value)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"pairs": {"BTCUSDT": {"size": float("nan")}}}, "pairs.BTCUSDT.size = nan"),
        ({"pairs": {"BTCUSDT": {"skew": float("inf")}}}, "pairs.BTCUSDT.skew = inf"),
        ({"engine": {"risk": {"stale_feed_s": float("inf")}}}, "engine.risk.stale_feed_s = inf"),
        ({"sim": {"latency_ms": float("inf")}}, "sim.latency_ms = inf"),
        ({"sim": {"balances": {"USDT": float("nan")}}}, "sim.balances.USDT = nan"),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_field(data, field):
    with pytest.raises(ConfigError, match="must be a finite number") as e:
        parse_config(data)
    assert field in str(e.value)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"pairs": {"BTCUSDT": {"size": "1" * 10_000_000}}}, "pairs.BTCUSDT.size = "),
        ({"pairs": {"BTCUSDT": {"spread": "5" * 100_000 + "bps"}}}, "pairs.BTCUSDT.spread = "),
        ({"sim": {"balances": {"USDT": "9" * 500}}}, "sim.balances.USDT = "),
        ({"sim": {"seed": "9" * 500}}, "sim.seed = "),
    ],
)
def test_absurdly_long_strings_are_refused_with_a_short_excerpt(data, field):
    with pytest.raises(ConfigError, match="characters long") as e:
        parse_config(data)
    assert field in str(e.value) and len(str(e.value)) < 400  # an excerpt, never the whole input


def test_a_binary_config_file_is_not_utf8_toml(tmp_path):
    f = tmp_path / "c.toml"
    f.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(
        ConfigError, match=r"c\.toml: not UTF-8 TOML \(byte 0x80 at offset 128; is it a binary file\?\)"
    ):
        load_config(f)
    f.write_bytes(b"\x1f\x8b\x08\x00\xff\xfe")
    with pytest.raises(ConfigError, match=r"not UTF-8 TOML .*is it gzip data"):
        load_config(f)
    f.write_bytes(b"[engine]\x00\x00")
    with pytest.raises(ConfigError, match=r"not UTF-8 TOML .*NUL byte"):
        load_config(f)
    with pytest.raises(ConfigError, match="it is a folder"):
        load_config(tmp_path)


def test_defaults_note_names_the_defaults_used():
    assert defaults_note(parse_config({"pairs": {"BTCUSDT": {}}}), ["BTCUSDT"]) is None
    note = defaults_note(parse_config({}), ["BTCUSDT"])
    assert note is not None and note.startswith("the config has no pairs: BTCUSDT quoted on the defaults (")
    d = PairConfig(symbol="BTCUSDT")
    assert f"spread {d.bid_spread}" in note and f"size {d.size} {d.size_unit}" in note and "\n" not in note
    some = defaults_note(parse_config({"pairs": {"BTCUSDT": {}}}), ["BTCUSDT", "ETHUSDT"])
    assert some is not None and some.startswith("the config has no [pairs.ETHUSDT]: ETHUSDT quoted on the defaults")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'exit_take_profit = "50bps"',
            "pairs.BTCUSDT: exit_take_profit set without exit_inventory: set exit_inventory (a base quantity, "
            "e.g. 0.01) to turn OCO exits on, or remove exit_take_profit",
        ),
        ('exit_take_profit = "5bps"\nexit_stop_loss = "5bps"', "exit_take_profit and exit_stop_loss set without"),
        ('exit_inventory = "0.01"\nexit_take_profit = "50bps"', "exit_inventory is set but exit_stop_loss is not"),
        ('exit_inventory = "0.01"\nexit_stop_loss = "50bps"', "exit_inventory is set but exit_take_profit is not"),
        (
            'exit_inventory = "0.01"\nexit_take_profit = "0bps"\nexit_stop_loss = "50bps"',
            "exit_take_profit = 0bps: an exit's distance must be above 0",
        ),
        ('exit_inventory = "-1"', "pairs.BTCUSDT.exit_inventory = '-1'"),
        ('exit_inventory = "0"', "pairs.BTCUSDT.exit_inventory = '0'"),
        ('exit_inventory = "0.01"\nexit_stop_loss = "far"\nexit_take_profit = "1bps"', "exit_stop_loss = 'far'"),
    ],
)
def test_exit_fields_are_checked_and_named(tmp_path, text, expected):
    f = tmp_path / "exits.toml"
    f.write_text(f"[pairs.BTCUSDT]\n{text}\n")
    with pytest.raises(ConfigError) as e:
        load_config(f)
    assert expected in str(e.value), str(e.value)


def test_exits_are_off_by_default_and_on_with_all_three_fields(tmp_path):
    assert PairConfig(symbol="BTCUSDT").exit_inventory is None
    f = tmp_path / "exits.toml"
    f.write_text('[pairs.BTCUSDT]\nexit_inventory = "0.01"\nexit_take_profit = "50bps"\nexit_stop_loss = "3ticks"\n')
    cfg = load_config(f).pairs["BTCUSDT"]
    assert (cfg.exit_inventory, str(cfg.exit_take_profit), str(cfg.exit_stop_loss)) == (
        Decimal("0.01"),
        "50bps",
        "3ticks",
    )
