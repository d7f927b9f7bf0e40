"""The research notebook is committed clean and thin (it runs under ``pytest --nbval-lax``)."""

import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "research.ipynb"


def test_research_notebook_has_no_outputs_and_explains_each_step():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)
    kinds = [c["cell_type"] for c in nb["cells"]]
    assert kinds[0] == "markdown" and kinds.count("markdown") >= 8
    text = "".join("".join(c["source"]) for c in code)
    used_calls = ("load_frames", "spread_figure", "run_backtest", "backtest_report", "sweep(", "heatmap(")
    analytics = ("markouts_ci(", "time_to_fill(", "markout_figure(", "time_to_fill_figure(", "calibrate_local(")
    for used in (*used_calls, *analytics):
        assert used in text, used
    assert max(len("".join(c["source"]).splitlines()) for c in code) <= 8  # thin: the work lives in the package
    assert "def " not in text and "class " not in text
