"""The operations panels: ipywidgets classes bound to an ``EngineHandle`` (in-process or a service).

``Dashboard`` lays them out for every configured pair on one ``EventStream``; each panel can also be
used on its own (give it to an ``EventStream``). See ``notebooks/operations.ipynb``.
"""

from liqkit.ui.balances import BalancesPanel
from liqkit.ui.base import Panel
from liqkit.ui.chart import MarketChart
from liqkit.ui.connection import ServiceConnection
from liqkit.ui.dashboard import Dashboard
from liqkit.ui.fills import FillsPanel
from liqkit.ui.health import HealthPanel
from liqkit.ui.orders import OrdersTable
from liqkit.ui.pair import PairPanel
from liqkit.ui.preflight import PreflightPanel
from liqkit.ui.stream import EventStream

__all__ = [
    "BalancesPanel",
    "Dashboard",
    "EventStream",
    "FillsPanel",
    "HealthPanel",
    "MarketChart",
    "OrdersTable",
    "PairPanel",
    "Panel",
    "PreflightPanel",
    "ServiceConnection",
]
