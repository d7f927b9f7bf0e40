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


# ---- model-based quoting (model = "glft" / "as") ----------------------------------------------------
GLFT = """
[pairs.BTCUSDT]
model = "glft"
gamma = 0.1
intensity_a = "2.54/s"
intensity_k = "1.28/bps"
vol_window = 30
max_spread = "8bps"
min_spread = "1ticks"
"""


def test_a_glft_pair_reads_its_units(tmp_path):
    f = tmp_path / "glft.toml"
    f.write_text(GLFT)
    pc = load_config(f).pairs["BTCUSDT"]
    assert pc.model == "glft" and pc.gamma == 0.1 and pc.vol_window == 30
    assert (pc.intensity_a.value, pc.intensity_a.per) == (Decimal("2.54"), "s")
    assert (pc.intensity_k.value, pc.intensity_k.per) == (Decimal("1.28"), "bps")
    assert str(pc.max_spread) == "8bps"
    dumped = pc.model_dump(mode="json")
    assert (dumped["intensity_a"], dumped["intensity_k"]) == ("2.54/s", "1.28/bps")
    assert PairConfig.model_validate(dumped) == pc  # a round trip (the API, the journal, sweeps)
    k = update_pair(pc, {"intensity_k": "2.5e-3 / tick", "gamma": 0.002})
    assert (k.intensity_k.value, k.intensity_k.per, k.gamma) == (Decimal("0.0025"), "tick", 0.002)
    assert PairConfig(symbol="BTCUSDT").model == "fixed"  # the default: today's spreads


def test_fixed_spreads_ignore_the_model_settings_so_a_sweep_can_vary_model():
    pc = update_pair(parse_config({"pairs": {"BTCUSDT": {}}}).pairs["BTCUSDT"], {"gamma": 0.5, "model": "fixed"})
    assert pc.model == "fixed" and pc.gamma == 0.5
    glft = update_pair(pc, {"model": "glft", "intensity_a": "1/s", "intensity_k": "1/bps"})
    assert update_pair(glft, {"model": "fixed"}).model == "fixed"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"gamma": float("nan")}, "gamma = nan: must be a finite number"),
        ({"gamma": float("inf")}, "gamma = inf: must be a finite number"),
        ({"gamma": 0}, "gamma = 0: Input should be greater than 0"),
        ({"gamma": -0.1}, "gamma = -0.1: Input should be greater than 0"),
        ({"gamma": "0.1/bps"}, "gamma = '0.1/bps': '0.1/bps': write a plain number, e.g. 0.1"),
        ({"gamma": None}, 'gamma: missing: model = "glft" needs gamma (the risk aversion'),
        ({"intensity_a": None}, 'intensity_a: missing: model = "glft" needs intensity_a (trades per second'),
        ({"intensity_k": None}, 'intensity_k: missing: model = "glft" needs intensity_k (the decay'),
        ({"intensity_a": 2.5}, "intensity_a = 2.5: 2.5 is a bare number: give its unit, as a string ('2.5/s')"),
        ({"intensity_k": 3}, "intensity_k = 3: 3 is a bare number: give its unit, as a string ('3/bps' or '3/tick')"),
        (
            {"intensity_a": "2.5/bps"},
            "intensity_a = '2.5/bps': '2.5/bps': per bps is the wrong unit here; write '2.5/s'",
        ),
        ({"intensity_a": "nan/s"}, "intensity_a = 'nan/s': 'nan/s' is not a rate: write '2.5/s'"),
        ({"intensity_a": "0/s"}, "intensity_a = '0/s': '0/s': must be above 0 and at most 1000000000"),
        ({"intensity_k": "1.3"}, "intensity_k = '1.3': '1.3' is not a rate: write '1.3/bps' or '1.3/tick'"),
        ({"intensity_k": "1.3/s"}, "intensity_k = '1.3/s': '1.3/s': per s is the wrong unit here"),
        ({"intensity_k": "-1.3/bps"}, "intensity_k = '-1.3/bps': '-1.3/bps' is negative: it must be > 0"),
        ({"intensity_k": "1e10/bps"}, "intensity_k = '1e10/bps': '1e10/bps': must be above 0 and at most"),
        # exponents past Decimal's range (the API fuzzer's): refused, not an InvalidOperation
        (
            {"intensity_a": "7e-38065599130534045735952/s"},
            "intensity_a = '7e-38065599130534045735952/s': '7e-38065599130534045735952/s': must be above 0 and at "
            "most 1000000000 (not below 1e-30)",
        ),
        ({"intensity_k": "7e380000000/bps"}, "intensity_k = '7e380000000/bps': '7e380000000/bps': must be above 0"),
        ({"intensity_k": float("inf")}, "intensity_k = inf: must be a finite number"),
        ({"vol_window": 0}, "vol_window = 0: Input should be greater than or equal to 1"),
        ({"vol_window": float("nan")}, "vol_window = nan: must be a finite number"),
        ({"vol_window": 10**6}, "vol_window = 1000000: Input should be less than or equal to 86400"),
        ({"max_spread": "0bps"}, "max_spread = '0bps': must be above min_spread (1ticks)"),
        ({"max_spread": "1ticks"}, "max_spread = '1ticks': must be above min_spread (1ticks)"),
        ({"max_spread": 5}, "max_spread = 5: 5 is a bare number"),
        (
            {"skew": 0.5},
            'skew = 0.5: model = "glft" skews with the inventory itself (gamma, the volatility): set skew = 0',
        ),
        ({"reference": "touch"}, "reference = 'touch': model = \"glft\" measures its spreads from the mid"),
        ({"model": "as"}, 'horizon: missing: model = "as" needs horizon'),
        ({"model": "as", "horizon": 0}, "horizon = 0: Input should be greater than 0"),
        ({"model": "GLFT"}, "model = 'GLFT': Input should be 'fixed', 'glft' or 'as'"),
    ],
)
def test_bad_model_settings_name_the_field_and_the_fix(tmp_path, change, expected):
    import tomllib

    data = tomllib.loads(GLFT)
    data["pairs"]["BTCUSDT"].update(change)
    if change.get(next(iter(change))) is None:
        del data["pairs"]["BTCUSDT"][next(iter(change))]
    with pytest.raises(ConfigError) as e:
        parse_config(data)
    assert f"pairs.BTCUSDT.{expected}" in str(e.value)
    assert "Traceback" not in str(e.value) and "^\\s*" not in str(e.value)


def test_the_api_changes_model_documents_what_it_accepts_for_icebergs_and_exit_distances():
    """The control API's schema says what the changes model takes (the fuzzer holds the two together): an
    iceberg's text or a number, an exit distance's text; an object in their place is refused by name."""
    from liqkit.domain.config import PairChanges

    props = PairChanges.model_json_schema()["properties"]
    shown = props["iceberg_visible"]["anyOf"][0]["anyOf"]
    assert [s["type"] for s in shown] == ["string", "number"]
    assert props["exit_take_profit"]["anyOf"][0]["type"] == "string"
    assert PairChanges.model_validate({"iceberg_visible": 2}).iceberg_visible.value == 2
    assert str(PairChanges.model_validate({"iceberg_visible": "25%"}).iceberg_visible) == "25%"
    assert PairChanges.model_validate({"exit_stop_loss": "4ticks"}).exit_stop_loss == "4ticks"
    for bad in ({"iceberg_visible": {"value": 1}}, {"exit_take_profit": {"value": 1, "unit": "bps"}}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            PairChanges.model_validate(bad)
