"""``KeyedRows``: a table whose rows are separate widgets, so a change re-sends only the rows it touches.

Each row is one ``HTML`` widget (a CSS grid line) in a ``VBox``. ``upsert`` and ``remove`` only record
what changed; ``apply`` (called at most twice a second by the event stream) sets the value of the rows
whose text changed, takes rows for new keys from a pool of spare widgets (or creates them), returns
removed rows to the pool, and re-sends the list of children (model ids only) when the set or order
of rows changed. Nothing else goes to the browser.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import ipywidgets as W

_POOL_MAX = 64


def cell_html(cells: Sequence[Any], columns: str, header: bool = False, style: str = "") -> str:
    """One grid line of ``cells`` (escaped text) laid out by the CSS ``columns`` template."""
    weight = "font-weight:600;border-bottom:1px solid #ccc;" if header else ""
    inner = "".join(f"<span>{html.escape('' if c is None else str(c))}</span>" for c in cells)
    return (
        f'<div style="display:grid;grid-template-columns:{columns};gap:6px;font-family:monospace;'
        f'font-size:12px;line-height:18px;{weight}{style}">{inner}</div>'
    )


class KeyedRows:
    """A table of keyed rows, each its own widget; changes are applied in batches by ``apply``."""

    def __init__(
        self,
        headers: Sequence[str],
        columns: str,
        sort_key: Callable[[Hashable, Sequence[Any]], Any] | None = None,
        empty_text: str = "none",
        css_class: str = "",
    ) -> None:
        self.columns = columns
        self.sort_key = sort_key
        self.header = W.HTML(cell_html(headers, columns, header=True))
        self.empty = W.HTML(f'<div style="font-size:12px;color:#888">{html.escape(empty_text)}</div>')
        self.box = W.VBox([self.header, self.empty])
        if css_class:
            self.box.add_class(css_class)
        self.rows: dict[Hashable, tuple[list[Any], W.HTML]] = {}
        self.styles: dict[Hashable, str] = {}
        self._pending: dict[Hashable, tuple[list[Any], str] | None] = {}
        self._pool: list[W.HTML] = []
        self._css_row = f"{css_class}-row" if css_class else ""
        self.stats = {"created": 0, "updated": 0, "removed": 0, "reordered": 0}

    def upsert(self, key: Hashable, cells: Sequence[Any], style: str = "") -> None:
        """Show ``cells`` on the row of ``key`` at the next ``apply``."""
        self._pending[key] = (list(cells), style)

    def remove(self, key: Hashable) -> None:
        """Drop the row of ``key`` at the next ``apply``."""
        self._pending[key] = None

    def clear(self) -> None:
        """Drop every row at the next ``apply``."""
        for key in list(self.rows):
            self._pending[key] = None
        for key in list(self._pending):
            if key not in self.rows:
                self._pending[key] = None

    def row_keys(self) -> list[Hashable]:
        """The keys shown (after the last ``apply``)."""
        return list(self.rows)

    def cells(self, key: Hashable) -> list[Any] | None:
        """The cells of a row as last applied."""
        row = self.rows.get(key)
        return row[0] if row else None

    @property
    def dirty(self) -> bool:
        """Whether ``apply`` has anything to send."""
        return bool(self._pending)

    def apply(self) -> None:
        """Send the rows that changed (and the children list if rows were added, removed or reordered)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        structure = False
        for key, item in pending.items():
            row = self.rows.get(key)
            if item is None:
                if row is not None:
                    del self.rows[key]
                    self.styles.pop(key, None)
                    self.stats["removed"] += 1
                    structure = True
                    if len(self._pool) < _POOL_MAX:
                        self._pool.append(row[1])
                    else:
                        row[1].close()
                continue
            cells, style = item
            text = cell_html(cells, self.columns, style=style)
            if row is None:
                w = self._pool.pop() if self._pool else self._new_row()
                if w.value != text:
                    w.value = text
                self.rows[key] = (cells, w)
                self.stats["created"] += 1
                structure = True
            else:
                self.rows[key] = (cells, row[1])
                if row[1].value != text:
                    row[1].value = text
                    self.stats["updated"] += 1
            self.styles[key] = style
        order = list(self.rows)
        if self.sort_key is not None:
            sk = self.sort_key
            order.sort(key=lambda k: sk(k, self.rows[k][0]))
        children = [self.header] + ([self.rows[k][1] for k in order] if order else [self.empty])
        if structure or list(self.box.children) != children:
            self.box.children = children
            self.stats["reordered"] += 1

    def _new_row(self) -> W.HTML:
        w = W.HTML()
        if self._css_row:
            w.add_class(self._css_row)
        return w

    def close(self) -> None:
        """Close every widget of the table."""
        for _, w in self.rows.values():
            w.close()
        for w in self._pool:
            w.close()
        self.header.close()
        self.empty.close()
        self.box.close()
