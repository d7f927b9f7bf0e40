"""``PairPanel``: run/stop one pair, see its state and why, and change its config while it quotes.

The form validates as you type with the same code the engine uses (``update_pair``): a bad value shows
an error naming the field and disables Apply, and nothing reaches the engine. What the form cannot
know alone (the symbol's filters, the budget rule at the current price and balances, a size under the
minimum order value) the engine's ``handle.preview`` decides: until it answers the change is being
checked and Apply stays disabled; a refusal makes the form invalid with the engine's message; a pass
makes it valid and shows the quotes it would place, and Apply sends it with ``handle.configure``. The
pair keeps quoting throughout. A refused command shows its error and leaves the pair as it was.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Mapping
from typing import Any

import ipywidgets as W

from liqkit.domain.config import PairConfig, update_pair
from liqkit.domain.errors import ConfigError
from liqkit.engine.events import ConfigEvent, Event, StateEvent, TickerEvent
from liqkit.engine.handle import EngineHandle
from liqkit.engine.views import PairView, Quote, Snapshot
from liqkit.ui.base import Panel
from liqkit.ui.fmt import dec, num
from liqkit.ui.tasks import describe, spawn

RUNNING = ("quoting", "paused")
STATE_COLORS = {"quoting": "#1a7f37", "paused": "#9a6700", "halted": "#cf222e", "error": "#cf222e"}
# form field -> (label, config key(s) it shows)
FIELDS: dict[str, str] = {
    "spread": "spread",
    "size": "size",
    "levels": "levels",
    "refresh_tolerance": "tolerance",
    "inventory_target": "inventory target",
    "skew": "skew",
    "max_inventory": "max inventory",
    "rebalance_band": "rebalance band",
    "iceberg_visible": "iceberg shown",
    "exit_inventory": "exit inventory",
    "exit_take_profit": "exit take-profit",
    "exit_stop_loss": "exit stop-loss",
}
# an empty field: none (off)
OPTIONAL = frozenset(
    {"max_inventory", "rebalance_band", "iceberg_visible", "exit_inventory", "exit_take_profit", "exit_stop_loss"}
)
PREVIEW_DELAY_S = 0.25


def _shown(cfg: PairConfig, key: str) -> str:
    """The form text of a config value."""
    if key == "spread":
        return str(cfg.bid_spread) if cfg.bid_spread == cfg.ask_spread else f"{cfg.bid_spread}"
    v = getattr(cfg, key)
    if v is None:
        return ""
    return str(v) if not hasattr(v, "normalize") else f"{v.normalize():f}"


def field_error(e: ConfigError, symbol: str, changes: Mapping[str, Any]) -> str:
    """The config error as the form names its fields (``spread`` rather than ``bid_spread``/``ask_spread``)."""
    lines = []
    for line in describe(e).split("; "):
        line = line.removeprefix(f"pairs.{symbol}.")
        if "spread" in changes:
            for side in ("bid_spread", "ask_spread"):
                if line.startswith(side) and side not in changes:
                    line = "spread" + line[len(side) :]
        if line not in lines:
            lines.append(line)
    return "; ".join(lines)


class PairPanel(Panel):
    """One pair: run/stop toggle with state and reason, live ticker, config form with preview and apply."""

    def __init__(self, handle: EngineHandle, symbol: str, view: PairView | None = None) -> None:
        self.handle = handle
        self.symbol = symbol.upper()
        self.cfg = PairConfig(symbol=self.symbol)
        self.state, self.reason = "stopped", ""
        self.ticker: TickerEvent | None = None
        self.last_error = ""
        self.note = ""  # shown while the form holds no changes (e.g. "applied ...")
        self.changes: dict[str, Any] = {}
        self.valid = True
        self.preview_quotes: list[Quote] | None = None
        self._syncing = False
        self._preview_task: asyncio.Task[None] | None = None
        self._dirty = True

        self.toggle = W.ToggleButton(description="Run", icon="play", layout=W.Layout(width="110px"))
        self.toggle.add_class("lq-run")
        self.state_html = W.HTML()
        self.state_html.add_class("lq-state")
        self.ticker_html = W.HTML()
        self.ticker_html.add_class("lq-ticker")
        self.inputs: dict[str, W.Text] = {}
        for key, label in FIELDS.items():
            t = W.Text(description=label, continuous_update=True, layout=W.Layout(width="auto", min_width="0"))
            t.style.description_width = "110px"
            t.add_class(f"lq-f-{key}")
            t.observe(self._edited, "value")
            self.inputs[key] = t
        self.post_only = W.Checkbox(description="post-only", indent=False, layout=W.Layout(width="120px"))
        self.post_only.add_class("lq-f-post_only")
        self.post_only.observe(self._edited, "value")
        self.form_msg = W.HTML()
        self.form_msg.add_class("lq-form-msg")
        self.preview_html = W.HTML()
        self.preview_html.add_class("lq-preview")
        self.apply_btn = W.Button(description="Apply", icon="check", disabled=True, button_style="primary")
        self.apply_btn.add_class("lq-apply")
        self.reset_btn = W.Button(description="Reset", disabled=True)
        self.toggle.observe(self._toggled, "value")
        self.apply_btn.on_click(lambda _: self.apply())
        self.reset_btn.on_click(lambda _: self.reset_form())

        # two columns sharing the tab's width (fixed widths overflowed it and the tab clipped the right ones)
        form = W.GridBox(
            [*self.inputs.values(), self.post_only],
            layout=W.Layout(grid_template_columns="repeat(2, minmax(0, 1fr))", grid_gap="2px 8px", width="100%"),
        )
        self.widget = W.VBox(
            [
                W.HBox([self.toggle, self.state_html], layout=W.Layout(align_items="center")),
                self.ticker_html,
                form,
                W.HBox([self.apply_btn, self.reset_btn]),
                self.form_msg,
                self.preview_html,
            ]
        )
        self.widget.add_class("lq-pair")
        self.widget.add_class(f"lq-pair-{self.symbol}")
        if view is not None:
            self._take_view(view)
        self.reset_form()
        self.flush()

    # ---- engine data in ---------------------------------------------------------------------------
    def _take_view(self, view: PairView) -> None:
        self.state, self.reason = view.state, view.reason
        self._take_config(view.config)
        self._dirty = True

    def _take_config(self, cfg: PairConfig) -> None:
        had_changes = bool(self.changes)
        self.cfg = cfg
        if had_changes:
            self._validate()
        else:
            self.reset_form()

    def on_snapshot(self, snap: Snapshot) -> None:
        view = snap.pairs.get(self.symbol)
        if view is not None:
            self._take_view(view)

    def on_event(self, ev: Event) -> None:
        if isinstance(ev, TickerEvent) and ev.symbol == self.symbol:
            self.ticker = ev
            self.state = ev.state
            self._dirty = True
        elif isinstance(ev, StateEvent) and ev.symbol == self.symbol:
            self.state, self.reason = ev.state, ev.reason
            self.last_error = ""
            self._dirty = True
        elif isinstance(ev, ConfigEvent) and ev.symbol == self.symbol:
            self._take_config(PairConfig.model_validate(dict(ev.config)))
            self._dirty = True

    def flush(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        shown = "error" if self.last_error else self.state
        why = self.last_error or self.reason
        color = STATE_COLORS.get(shown, "#57606a")
        self.state_html.value = (
            f'<b>{html.escape(self.symbol)}</b> <span class="lq-state-name" style="color:{color};font-weight:600">'
            f"{html.escape(shown)}</span> <span style='font-size:12px;color:#57606a'>{html.escape(why)}</span>"
        )
        running = self.state in RUNNING
        if self.toggle.value != running:
            self._syncing = True
            try:
                self.toggle.value = running
            finally:
                self._syncing = False
        self.toggle.description, self.toggle.icon = ("Stop", "stop") if running else ("Run", "play")
        t = self.ticker
        if t is not None:
            self.ticker_html.value = (
                f'<span style="font-family:monospace;font-size:12px">market {dec(t.bid)} / '
                f"{dec(t.ask)} ({num(t.spread_bps, 2)} bps) · ours {dec(t.our_bid) or '-'} / "
                f"{dec(t.our_ask) or '-'} ({num(t.our_spread_bps, 2) or '-'} bps) · "
                f"position {dec(t.position)}</span>"
            )

    # ---- run / stop -------------------------------------------------------------------------------
    def _toggled(self, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        self.toggle.disabled = True
        spawn(self._run_or_stop(bool(change["new"])), self._command_failed)

    async def _run_or_stop(self, run: bool) -> None:
        try:
            view = await (self.handle.run(self.symbol) if run else self.handle.stop(self.symbol))
            self.last_error = ""
            self._take_view(view)
        finally:
            self.toggle.disabled = False
            self.flush()

    def _command_failed(self, e: BaseException) -> None:
        self.last_error = f"{'run' if self.toggle.value else 'stop'} failed: {describe(e)}"
        self._dirty = True
        self.flush()

    # ---- the form ---------------------------------------------------------------------------------
    def reset_form(self) -> None:
        """Show the pair's current config in the form (dropping unapplied edits)."""
        self._syncing = True
        try:
            for key, w in self.inputs.items():
                w.value = _shown(self.cfg, key)
            self.inputs["size"].description = f"size ({self.cfg.size_unit})"
            self.post_only.value = self.cfg.post_only
        finally:
            self._syncing = False
        self._validate()

    def form_changes(self) -> dict[str, Any]:
        """The changes the form holds against the pair's config."""
        out: dict[str, Any] = {}
        for key, w in self.inputs.items():
            text = w.value.strip()
            if text != _shown(self.cfg, key):
                out[key] = None if (text == "" and key in OPTIONAL) else text
        if self.post_only.value != self.cfg.post_only:
            out["post_only"] = self.post_only.value
        return out

    def _edited(self, _: dict[str, Any]) -> None:
        if not self._syncing:
            self.note = ""
            self._validate()

    def _validate(self) -> None:
        self.changes = self.form_changes()
        if self._preview_task is not None:
            self._preview_task.cancel()
            self._preview_task = None
        self.preview_quotes = None
        self.reset_btn.disabled = not self.changes
        if not self.changes:
            self.valid = True
            self.apply_btn.disabled = True
            self._message(self.note)
            self.preview_html.value = ""
            return
        try:
            update_pair(self.cfg, self.changes)
        except ConfigError as e:
            self.valid = False
            self.apply_btn.disabled = True
            self._message(field_error(e, self.symbol, self.changes), error=True)
            self.preview_html.value = ""
            return
        coro = self._preview(dict(self.changes))
        try:  # the engine decides the rest (filters, budget, minimum order value): invalid until it has
            self._preview_task = spawn(coro, self._preview_failed)
        except RuntimeError:  # no running loop (plain Python): no preview, the engine checks on Apply
            coro.close()
            self._set_valid()
            return
        self.valid = False
        self.apply_btn.disabled = True
        self._message("checking with the engine...")

    def _set_valid(self) -> None:
        self.valid = True
        self.apply_btn.disabled = False
        self._message("valid: Apply changes the pair without stopping it")

    def _message(self, text: str, error: bool = False) -> None:
        cls = "lq-form-error" if error else "lq-form-ok"
        color = "#cf222e" if error else "#57606a"
        self.form_msg.value = (
            f'<div class="{cls}" style="font-size:12px;color:{color}">{html.escape(text)}</div>' if text else ""
        )

    async def _preview(self, changes: dict[str, Any]) -> None:
        await asyncio.sleep(PREVIEW_DELAY_S)  # typing: preview what stays for a moment
        quotes = await self.handle.preview(self.symbol, changes)
        if changes != self.changes:
            return
        self._set_valid()
        self.preview_quotes = quotes
        if not quotes:
            self.preview_html.value = '<div style="font-size:12px">would place no quotes (no market yet?)</div>'
            return
        rows = "".join(
            f"<tr><td>{html.escape(q.side)}</td><td>{q.level}</td><td>{html.escape(dec(q.price))}</td>"
            f"<td>{html.escape(dec(q.qty))}</td></tr>"
            for q in sorted(quotes, key=lambda q: (q.side != "SELL", q.level))
        )
        self.preview_html.value = (
            '<div style="font-size:12px">would place:<table style="font-family:monospace;font-size:12px">'
            f"<tr><th>side</th><th>level</th><th>price</th><th>qty</th></tr>{rows}</table></div>"
        )

    def _preview_failed(self, e: BaseException) -> None:
        if isinstance(e, ConfigError):  # the engine refuses this change: invalid, saying why
            self.valid = False
            self.apply_btn.disabled = True
            self._message(field_error(e, self.symbol, self.changes), error=True)
            self.preview_html.value = ""
            return
        self._set_valid()  # no answer (e.g. the service is away): Apply lets the engine decide
        self.preview_html.value = (
            f'<div style="font-size:12px;color:#9a6700">no preview: {html.escape(describe(e))}</div>'
        )

    def apply(self) -> bool:
        """Send the form's changes to the engine (the pair keeps quoting); False (nothing sent) while
        the form has no change or an invalid one."""
        if not self.changes or not self.valid:
            return False
        self.apply_btn.disabled = True
        spawn(self._apply(dict(self.changes)), self._apply_failed)
        return True

    async def _apply(self, changes: dict[str, Any]) -> None:
        view = await self.handle.configure(self.symbol, changes)
        self.changes = {}
        self.note = "applied " + ", ".join(f"{k} = {v}" for k, v in changes.items()) + " (the pair kept quoting)"
        self._take_view(view)
        self._message(self.note)
        self.flush()

    def _apply_failed(self, e: BaseException) -> None:
        self.apply_btn.disabled = not self.changes
        text = field_error(e, self.symbol, self.changes) if isinstance(e, ConfigError) else describe(e)
        self._message(f"not applied: {text}", error=True)
