"""The simulated exchange's matching as a ``[sim]`` table sets it.

``sim_exchange`` builds the ``SimExchange`` with the table's fill model, queue model (and its
parameter), fees and balances. Every driver gets it here — the backtest, the live runner on a virtual
clock, the wall-clock simulated exchange and ``liqkit sim-server`` — so that one config matches alike
on each of them.
"""

from __future__ import annotations

from liqkit.domain.config import SimConfig
from liqkit.venues.sim.exchange import SimExchange


def sim_exchange(cfg: SimConfig) -> SimExchange:
    """The simulated exchange ``cfg`` describes (its symbols are added by the caller)."""
    return SimExchange(
        cfg.fill_model, cfg.maker_fee_bps, cfg.taker_fee_bps, cfg.balances, cfg.queue_model, cfg.queue_exponent
    )
