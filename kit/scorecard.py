"""The scorecard of one evaluated SAE: its headline numbers with intervals, its baselines, the paper's numbers.

:func:`scorecard_tables` turns :class:`kit.evaluate.Results` (and the paper's rows from
:func:`kit.reference.paper_results`) into small tables; :func:`to_markdown` and :func:`to_html` render them.
Pure functions: ``kit score`` writes the files.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

from kit.reference import PAPER_ENCODER, PAPER_K, paper_dataset
from kit.results import LOWER_IS_BETTER, METRICS, NO_DIRECTION, PAPER_METRICS

ROLE_ORDER = ("trained", "untrained", "random")


@dataclass(frozen=True)
class Scorecard:
    """title; facts: (label, value) pairs; tables: (heading, note, DataFrame of strings) in display order."""

    title: str
    facts: list
    tables: list


def _cell(value: float, lo: float, hi: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if lo is None or hi is None or math.isnan(lo) or math.isnan(hi):
        return f"{value:.3f}"
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}]"


def _by_role(rows, keys: list[str]):
    """A table of "value [lo, hi]" strings: one row per ``keys`` (in the rows' order), one column per role."""
    import pandas as pd

    roles = [r for r in ROLE_ORDER if r in set(rows.role)] + [r for r in dict.fromkeys(rows.role)
                                                               if r not in ROLE_ORDER]
    cells: dict[tuple, dict] = {}
    for rec in rows.to_dict("records"):
        b = rec["budget"]
        rec["budget"] = "" if b is None or b != b else int(b)
        cells.setdefault(tuple(rec[k] for k in keys), {})[rec["role"]] = _cell(rec["value"], rec["ci_low"],
                                                                             rec["ci_high"])
    return pd.DataFrame([{**dict(zip(keys, key)), **{r: got.get(r, "") for r in roles}}
                         for key, got in cells.items()])


def scorecard_tables(results, paper=None) -> Scorecard:
    """The scorecard of ``results`` (:class:`kit.evaluate.Results`); ``paper``: the published rows to set beside
    it (only those of the same dataset, criterion, family and dictionary size are shown)."""
    r = results.rows
    info = results.config["sae"]
    data = results.config["data"]
    title = f"Scorecard: {info['sae']} on {data['dataset'] or 'the benchmark'} ({data['encoder'] or 'embeddings'})"
    facts = [("SAE", info["sae"]), ("family", info["family"]), ("latents D", info["dict_size"]),
             ("k", info["sparsity"] if info["sparsity"] is not None else "– (no fixed k)"), ("input width d", info["d"]),
             ("annotated images matched", data["n_images"]), ("concepts", data["n_concepts"]),
             ("pairs", data["n_pairs"] if data["n_pairs"] is not None else "– (no TAPAScore)"),
             ("baselines", ", ".join(f"{k} ({v})" for k, v in results.config["baselines"].items()) or "none"),
             ("kit version", results.kit_version)]
    tables = []
    head = r[r.metric.isin(PAPER_METRICS)]
    if len(head):
        t = _by_role(head, ["criterion", "budget", "metric"])
        tables.append(("The paper's metrics", "value [95% bootstrap interval]; ΔMATCHScore is the trained SAE's "
                       "MATCHScore minus its untrained twin's; Δ_stay: lower is better.", t))
    rest = r[~r.metric.isin(PAPER_METRICS)]
    if len(rest):
        t = _by_role(rest, ["metric", "criterion", "budget"])
        t.insert(1, "better", ["–" if m in NO_DIRECTION else "lower" if m in LOWER_IS_BETTER else "higher"
                               for m in t.metric])
        tables.append(("Further metrics", "TAPAScore's companions, the reconstruction proxies and the baseline "
                       "metrics; value [95% bootstrap interval] per model.", t))
    if paper is not None:
        tables += _paper_tables(r, paper, info, data)
    if results.skipped:
        import pandas as pd

        skipped = pd.DataFrame({"metric": list(results.skipped), "why": list(results.skipped.values())})
        tables.append(("Not computed", "metrics the data does not support", skipped))
    return Scorecard(title=title, facts=facts, tables=tables)


def _paper_tables(r, paper, info: dict, data: dict) -> list:
    import pandas as pd

    name = paper_dataset(data["dataset"] or "")
    if name is None:
        return [("The paper's numbers", f"no published dataset corresponds to {data['dataset']!r} (the paper has "
                 "CUB/synCUB and COCO/synCOCO)", pd.DataFrame())]
    p = paper[paper.dataset == name]
    note = (f"Published for {name} with {PAPER_ENCODER}, k = {PAPER_K} (Klotz et al., ECCV 2026) — another encoder "
            "and benchmark unless this run used them; compare directions, not values.")
    out = []
    same = p[(p.family == info["family"]) & (p.dict_size == info["dict_size"]) & p.criterion.isin(set(r.criterion))]
    if len(same):
        mine = r[r.role == "trained"].set_index(["metric", "criterion"])
        t = pd.DataFrame({"metric": same.metric.values, "criterion": same.criterion.values,
                          "paper": [f"{v:.3f}" for v in same.value],
                          "this run": [_cell(*mine.loc[(m, c), ["value", "ci_low", "ci_high"]].values)
                                       if (m, c) in mine.index else "–" for m, c in zip(same.metric, same.criterion)]})
        out.append((f"The paper's {info['family']} SAE with {info['dict_size']} latents", note, t))
    else:
        out.append(("The paper's numbers", f"the paper published no {info['family']} SAE with {info['dict_size']} "
                    f"latents on {name} (its grid: TopK, BatchTopK, Matryoshka, JumpReLU × 128 … 4096)",
                    pd.DataFrame()))
    sanity = p[p.family == "mean"]
    if len(sanity):
        t = sanity.pivot_table(index=["metric", "criterion"], columns="role", values="value", sort=False)
        t = t[[c for c in ROLE_ORDER if c in t.columns]].map(lambda v: f"{v:.3f}").reset_index()
        out.append(("The paper's sanity check", note + " Trained: the mean over 4 families × 6 sizes.", t))
    return out


def _md_table(df) -> str:
    if df.empty:
        return ""
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def to_markdown(card: Scorecard) -> str:
    """The scorecard as Markdown."""
    parts = [f"# {card.title}", "", "\n".join(f"- **{k}**: {v}" for k, v in card.facts)]
    for heading, note, table in card.tables:
        parts += ["", f"## {heading}", "", f"_{note}_" if note else ""]
        if not table.empty:
            parts += ["", _md_table(table)]
    parts += ["", f"_Metric names: {', '.join(m for m in METRICS if m in _mentioned(card))}. "
                  "Definitions: kit.results.METRICS._", ""]
    return "\n".join(parts)


def _mentioned(card: Scorecard) -> set:
    out = set()
    for _, _, t in card.tables:
        if "metric" in t.columns:
            out |= set(t.metric)
    return out


def to_html(card: Scorecard) -> str:
    """The scorecard as one self-contained HTML page (no scripts, no external assets)."""
    esc = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{esc(card.title)}</title>",
             "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
             "table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.25rem .6rem;"
             "text-align:left}th{background:#f3f3f3}.note{color:#555;font-style:italic}</style></head><body>",
             f"<h1>{esc(card.title)}</h1>", "<ul>"]
    parts += [f"<li><b>{esc(str(k))}</b>: {esc(str(v))}</li>" for k, v in card.facts]
    parts.append("</ul>")
    for heading, note, table in card.tables:
        parts.append(f"<h2>{esc(heading)}</h2>")
        if note:
            parts.append(f'<p class="note">{esc(note)}</p>')
        if not table.empty:
            parts.append(table.to_html(index=False, escape=True, border=0))
    parts.append("</body></html>")
    return "\n".join(parts)
