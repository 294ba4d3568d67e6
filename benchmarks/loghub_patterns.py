#!/usr/bin/env python
"""Template mining on Loghub-style labelled samples: logkit's miner against Drain3.

For every system folder under --data (each holding `<Sys>*_structured_corrected.csv` or
`<Sys>*_structured.csv` with `Content`, `EventId`, `EventTemplate` columns) it scores, side
by side in one process:

- logkit: `TemplateMiner().mine(...)`, one configuration for every system, final ids;
- Drain3 with its defaults;
- Drain3 with the per-system settings of the published Drain benchmark (masking regexes,
  similarity threshold, depth), where the system has such settings.

Metrics: grouping accuracy (GA), parsing accuracy (PA), throughput (messages per second,
in-process, median of --repeat runs, a fresh miner per run, after a warm-up on the first
200 messages; logkit's `msg/s` includes its final pass, `stream msg/s` is `add()` per
message with no final pass, the mode Drain3 runs in; `stream GA` scores those ids). The
data is read where it lies and is never copied into the project.

Two sets, scored in the same run: `--data` (the 8 Loghub-2k systems of the shared folder,
the set the miner's one configuration was tuned on) and `--heldout` (the other 8 Loghub-2k
systems, which the miner was not tuned on: e.g. `data/loghub_2k_corrected` of the public
repository logpai/logparser, without the 8 shared systems). Each set gets its own table
and averages; a missing held-out folder is reported, not silently skipped.

    python -m benchmarks.loghub_patterns [--data DIR] [--heldout DIR] [--labels corrected|original]
        [--repeat 5] [--json FILE|-]
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _default_data() -> Path:
    # The shared folder sits next to the checkout (or next to the folder of work trees).
    for base in (REPO.parent, REPO.parent.parent):
        if (base / "shared" / "data" / "loghub_2k").is_dir():
            return base / "shared" / "data" / "loghub_2k"
    return REPO.parent / "shared" / "data" / "loghub_2k"


DEFAULT_DATA = _default_data()

# Per-system settings of the published Drain benchmark, as given in logpai/logparser,
# file logparser/Drain/benchmark.py (`benchmark_settings`: regex, st, depth; the log formats
# are not needed since the CSVs already hold the message part). Used only for the
# "Drain3 benchmark settings" column; logkit's miner does not read them.
DRAIN_BENCHMARK_SETTINGS = {
    "HDFS": {"regex": [r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"], "st": 0.5, "depth": 4},
    "Hadoop": {"regex": [r"(\d+\.){3}\d+"], "st": 0.5, "depth": 4},
    "Spark": {"regex": [r"(\d+\.){3}\d+", r"\b[KGTM]?B\b", r"([\w-]+\.){2,}[\w-]+"], "st": 0.5, "depth": 4},
    "Zookeeper": {"regex": [r"(/|)(\d+\.){3}\d+(:\d+)?"], "st": 0.5, "depth": 4},
    "BGL": {"regex": [r"core\.\d+"], "st": 0.5, "depth": 4},
    "HPC": {"regex": [r"=\d+"], "st": 0.5, "depth": 4},
    "Thunderbird": {"regex": [r"(\d+\.){3}\d+"], "st": 0.5, "depth": 4},
    "Windows": {"regex": [r"0x.*?\s"], "st": 0.7, "depth": 5},
    "Linux": {"regex": [r"(\d+\.){3}\d+", r"\d{2}:\d{2}:\d{2}"], "st": 0.39, "depth": 6},
    "Android": {
        "regex": [
            r"(/[\w-]+)+",
            r"([\w-]+\.){2,}[\w-]+",
            r"\b(\-?\+?\d+)\b|\b0[Xx][a-fA-F\d]+\b|\b[a-fA-F\d]{4,}\b",
        ],
        "st": 0.2,
        "depth": 6,
    },
    "HealthApp": {"regex": [], "st": 0.2, "depth": 4},
    "Apache": {"regex": [r"(\d+\.){3}\d+"], "st": 0.5, "depth": 4},
    "Proxifier": {
        "regex": [r"<\d+\ssec", r"([\w-]+\.)+[\w-]+(:\d+)?", r"\d{2}:\d{2}(:\d{2})*", r"[KGTM]B"],
        "st": 0.6,
        "depth": 3,
    },
    "OpenSSH": {"regex": [r"(\d+\.){3}\d+", r"([\w-]+\.){2,}[\w-]+"], "st": 0.6, "depth": 5},
    "OpenStack": {"regex": [r"((\d+\.){3}\d+,?)+", r"/.+?\s", r"\d+"], "st": 0.5, "depth": 5},
    "Mac": {"regex": [r"([\w-]+\.){2,}[\w-]+"], "st": 0.7, "depth": 6},
}


def discover(data: Path, labels: str) -> list[tuple[str, Path]]:
    found = []
    for sub in sorted(p for p in data.iterdir() if p.is_dir()):
        corrected = sorted(sub.glob("*_structured_corrected.csv"))
        original = sorted(sub.glob("*_structured.csv"))
        pick = (corrected or original) if labels == "corrected" else original
        if pick:
            found.append((sub.name, pick[0]))
    return found


def read_structured(path: Path) -> tuple[list[str], list[str], list[str]]:
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        rows = list(csv.DictReader(fh))
    missing = {"Content", "EventId", "EventTemplate"} - set(rows[0] if rows else {})
    if missing:
        raise SystemExit(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    return [r["Content"] for r in rows], [r["EventId"] for r in rows], [r["EventTemplate"] for r in rows]


def grouping_accuracy(predicted: list, truth: list) -> float:
    """Zhu et al. 2019: a message is right when its predicted group is exactly its
    ground-truth group."""
    pred_groups: dict = defaultdict(set)
    true_groups: dict = defaultdict(set)
    for i, (p, t) in enumerate(zip(predicted, truth)):
        pred_groups[p].add(i)
        true_groups[t].add(i)
    right = 0
    for members in true_groups.values():
        if pred_groups[predicted[next(iter(members))]] == members:
            right += len(members)
    return right / len(truth) if truth else 0.0


def parsing_accuracy(templates: list[str], truth: list[str]) -> float:
    same = sum(" ".join(a.split()) == " ".join(b.split()) for a, b in zip(templates, truth))
    return same / len(truth) if truth else 0.0


def run_logkit(contents: list[str]) -> tuple[list[str], list[str]]:
    from logkit.patterns import TemplateMiner

    result = TemplateMiner().mine(contents)
    return [r[0] for r in result], [r[1] for r in result]


def run_logkit_streaming(contents: list[str]) -> list[str]:
    from logkit.patterns import TemplateMiner

    add = TemplateMiner().add
    return [add(c).template_id for c in contents]


def _drain3(contents: list[str], setting: dict | None) -> tuple[list[int], list[str]]:
    from drain3 import TemplateMiner as Drain3
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()  # an explicit config: no drain3.ini is read
    config.profiling_enabled = False
    if setting is not None:
        config.drain_sim_th = setting["st"]
        config.drain_depth = setting["depth"]
        # mask_with "*" between the default "<" and ">" gives the benchmark's "<*>".
        config.masking_instructions = [MaskingInstruction(rx, "*") for rx in setting["regex"]]
    miner = Drain3(config=config)
    ids = [miner.add_log_message(c)["cluster_id"] for c in contents]
    clusters = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    return ids, [clusters[i] for i in ids]


def timed(fn, contents, repeat: int):
    speeds, result = [], None
    fn(contents[:200])  # warm-up: regex compilation and imports stay out of the timing
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(contents)
        speeds.append(len(contents) / max(time.perf_counter() - start, 1e-9))
    return result, statistics.median(speeds)


def score(systems, repeat: int, drain: bool) -> tuple[list[dict], dict]:
    """Per-system results and averages of one set of systems."""
    results = []
    for name, path in systems:
        contents, event_ids, event_templates = read_structured(path)
        row = {"system": name, "messages": len(contents), "labels": path.name}
        (ids, templates), speed = timed(run_logkit, contents, repeat)
        stream_ids, stream_speed = timed(run_logkit_streaming, contents, repeat)
        row["logkit"] = {
            "ga": grouping_accuracy(ids, event_ids),
            "pa": parsing_accuracy(templates, event_templates),
            "msgs_per_s": speed,
            "templates": len(set(ids)),
            "streaming_ga": grouping_accuracy(stream_ids, event_ids),
            "stream_msgs_per_s": stream_speed,
        }
        if drain:
            (ids, templates), speed = timed(lambda c: _drain3(c, None), contents, repeat)
            row["drain3_default"] = {
                "ga": grouping_accuracy(ids, event_ids),
                "pa": parsing_accuracy(templates, event_templates),
                "msgs_per_s": speed,
                "templates": len(set(ids)),
            }
            setting = DRAIN_BENCHMARK_SETTINGS.get(name)
            if setting is not None:
                (ids, templates), speed = timed(lambda c: _drain3(c, setting), contents, repeat)
                row["drain3_benchmark"] = {
                    "ga": grouping_accuracy(ids, event_ids),
                    "pa": parsing_accuracy(templates, event_templates),
                    "msgs_per_s": speed,
                    "templates": len(set(ids)),
                }
        results.append(row)

    miners = ["logkit"] + (["drain3_default", "drain3_benchmark"] if drain else [])
    average = {}
    for m in miners:
        scored = [r[m] for r in results if m in r]
        if scored:
            keys = ("ga", "pa", "msgs_per_s") + (("streaming_ga", "stream_msgs_per_s") if m == "logkit" else ())
            average[m] = {k: statistics.fmean(s[k] for s in scored) for k in keys}
            # Throughput over all the systems together: total messages / total time (the
            # harmonic mean of the per-system rates; a fast system cannot hide a slow one).
            for k in keys:
                if "msgs_per_s" in k:
                    average[m][k.replace("msgs_per_s", "pooled_msgs_per_s")] = statistics.harmonic_mean(
                        [s[k] for s in scored]
                    )
            average[m]["systems"] = len(scored)
    return results, average


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help="folder of Loghub-style system folders, the tuning set (default: shared/data/loghub_2k)")
    ap.add_argument("--heldout", type=Path, default=None,
                    help="folder of the held-out systems (scored separately; not part of the project)")
    ap.add_argument("--labels", choices=["corrected", "original"], default="corrected",
                    help="corrected: *_structured_corrected.csv when present (default)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per miner (median)")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON ('-' = stdout)")
    ap.add_argument("--no-drain3", action="store_true", help="score logkit only")
    args = ap.parse_args(argv)

    if not args.data.is_dir():
        print(f"error: data folder {args.data} not found; pass --data DIR (a folder of "
              f"<System>/<System>*_structured[_corrected].csv files)", file=sys.stderr)
        return 2
    systems = discover(args.data, args.labels)
    if not systems:
        print(f"error: no <System>/*_structured*.csv files under {args.data}", file=sys.stderr)
        return 2
    heldout: list = []
    heldout_note = None
    if args.heldout is None:
        heldout_note = ("held-out set: not given (--heldout DIR); only the tuning set is scored, "
                        "so these figures say nothing about logs the miner was not tuned on")
    elif not args.heldout.is_dir() or not discover(args.heldout, args.labels):
        heldout_note = f"held-out set: MISSING, no <System>/*_structured*.csv under {args.heldout}"
    else:
        heldout = discover(args.heldout, args.labels)
        overlap = {n for n, _ in heldout} & {n for n, _ in systems}
        if overlap:
            print(f"error: systems in both --data and --heldout: {', '.join(sorted(overlap))}", file=sys.stderr)
            return 2
    if heldout_note:
        print(f"note: {heldout_note}", file=sys.stderr)
    logging.getLogger("drain3").setLevel(logging.WARNING)  # drain3 logs every cluster change at INFO
    repeat = max(1, args.repeat)
    miners = ["logkit"] + ([] if args.no_drain3 else ["drain3_default", "drain3_benchmark"])

    sets = {"tuning": (args.data, systems)}
    if heldout:
        sets["heldout"] = (args.heldout, heldout)
    doc = {"labels": args.labels, "repeat": repeat, "sets": {}}
    out = []
    for key, (folder, members) in sets.items():
        results, average = score(members, repeat, not args.no_drain3)
        title = ("Tuning set (the configuration was chosen on these)" if key == "tuning"
                 else "Held-out set (never used to choose anything)")
        out.append(f"### {title}: {folder.name}, {len(results)} systems\n")
        out.append(markdown(results, average, miners, args, repeat))
        out.append("")
        doc["sets"][key] = {"data": str(folder), "systems": results, "average": average}
    if heldout_note:
        out.append(f"({heldout_note})")
        doc["heldout_note"] = heldout_note
    print("\n".join(out))
    if args.json:
        # The tuning set keeps its old top-level keys for readers of earlier files.
        doc.update(data=str(args.data), systems=doc["sets"]["tuning"]["systems"],
                   average=doc["sets"]["tuning"]["average"])
        text = json.dumps(doc, indent=2)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


def markdown(results, average, miners, args, repeat) -> str:
    titles = {"logkit": "logkit", "drain3_default": "Drain3 default",
              "drain3_benchmark": "Drain3 bench. settings"}
    head = ["system"]
    for m in miners:
        head += [f"{titles[m]} GA", f"{titles[m]} PA", f"{titles[m]} msg/s"]
        if m == "logkit":
            head += ["logkit stream GA", "logkit stream msg/s"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]

    def cells(r):
        out = []
        for m in miners:
            s = r.get(m)
            out += ([f"{s['ga']:.3f}", f"{s['pa']:.3f}", f"{s['msgs_per_s']:,.0f}"] if s else ["n/a"] * 3)
            if m == "logkit":
                out += [f"{s['streaming_ga']:.3f}", f"{s['stream_msgs_per_s']:,.0f}"]
        return out

    for r in results:
        lines.append("| " + " | ".join([r["system"]] + cells(r)) + " |")
    lines.append("| " + " | ".join(["**average**"] + cells(average)) + " |")
    stream = statistics.fmean(r["logkit"]["streaming_ga"] for r in results)
    lines.append("")
    lines.append(f"labels: {args.labels}; throughput: in-process, median of {repeat} runs; "
                 f"logkit streaming-id GA (ids as messages arrive, no final pass): {stream:.3f}")
    if "drain3_default" in average and "drain3_benchmark" in average:
        worse = [r["system"] for r in results
                 if "drain3_benchmark" in r and r["logkit"]["ga"] < r["drain3_benchmark"]["ga"]]
        lines.append(f"logkit GA below Drain3 with the benchmark's settings on: {', '.join(worse) or 'no system'}")
    if "drain3_default" in average:
        lk, d3 = average["logkit"], average["drain3_default"]
        per_system = [r["logkit"]["msgs_per_s"] / r["drain3_default"]["msgs_per_s"] for r in results]
        per_stream = [r["logkit"]["stream_msgs_per_s"] / r["drain3_default"]["msgs_per_s"] for r in results]
        lines.append(
            f"logkit / Drain3-default throughput, final pass included: "
            f"{statistics.fmean(per_system):.2f}x (mean of the per-system ratios), "
            f"{lk['pooled_msgs_per_s'] / d3['pooled_msgs_per_s']:.2f}x (all systems pooled: "
            f"total messages / total time), {lk['msgs_per_s'] / d3['msgs_per_s']:.2f}x "
            f"(ratio of the mean rates), per system {min(per_system):.2f}x to {max(per_system):.2f}x, "
            f"{sum(x >= 3 for x in per_system)}/{len(per_system)} systems at 3x or more"
        )
        lines.append(
            f"logkit streaming add() / Drain3-default: "
            f"{statistics.fmean(per_stream):.2f}x (mean of the per-system ratios), "
            f"{lk['stream_pooled_msgs_per_s'] / d3['pooled_msgs_per_s']:.2f}x (pooled)"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
