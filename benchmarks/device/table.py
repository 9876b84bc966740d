"""The device check's one table: ``python benchmarks/device/table.py RUN_DIR [--cpu BASELINE.json]``.

Reads what ``benchmarks/device_check.sh`` left in RUN_DIR (``full/`` and ``finetune/`` training runs,
``vit_eager.json``, ``vit_compile.json``, ``geoclip.json``, and ``<step>.status`` for each step: "ok" or
why it failed) and the CPU figures measured on the same shards by ``benchmarks/device_prepare.sh
--cpu-baseline`` (``cpu_baseline.json``), prints a Markdown table and writes ``RUN_DIR/table.md`` and
``RUN_DIR/results.json``.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def train_figures(run: Path) -> dict | None:
    """``{"images_per_s", "images", "seconds", "epoch_s"}`` of a one-epoch ``model.train`` run folder."""
    m = _json(run / "metrics.json")
    if not m or not m.get("epochs"):
        return None
    ep = m["epochs"][0]
    cfg = _json(run / "config.json") or {}
    size = cfg.get("input_size") or "its own"
    setting = (f"{cfg.get('backbone')} at {size} px, {'pretrained' if cfg.get('pretrained') else 'random init'}, "
               f"{cfg.get('precision')}, batch {cfg.get('batch_size')}, {cfg.get('workers')} workers, {cfg.get('device')}")
    return {"images_per_s": ep.get("train_images_per_s"), "epoch_s": ep.get("seconds"),
            "train_seconds": m.get("train_seconds"), "setting": setting}


def _status(run: Path, step: str) -> str:
    try:
        return (run / f"{step}.status").read_text().strip()
    except OSError:
        return "not run"


def _fmt(v, spec: str = ",.0f") -> str:
    return "–" if v is None else format(v, spec)


def rows(run: Path, cpu: dict) -> list[tuple[str, str, str, str]]:
    """(check, setting, figure, CPU reference) per step; a failed step says why."""
    out = []
    for step, words in (("full", "`--mode full`"), ("finetune", "`--mode finetune` (trunk on the fly)")):
        f = train_figures(run / step)
        ref = cpu.get(step)
        ref_s = (f"{_fmt(ref, ',.1f')} img/s ({cpu.get('machine', 'CPU')}; {cpu.get('train_setting', '')})"
                 if ref else "not measured")
        if f and _status(run, step) == "ok":
            fig = f"{_fmt(f['images_per_s'], ',.0f')} img/s (epoch {_fmt(f['epoch_s'], '.1f')} s)"
            if ref and f["images_per_s"]:
                x = f["images_per_s"] / ref
                fig += f", {x:,.0f}x CPU" if x >= 10 else f", {x:.1f}x CPU"
        else:
            fig = f"failed: {_status(run, step)}"
        setting = f["setting"] + ", shards" if f else "efficientnet_lite2, bf16, batch 64, 8 workers, shards"
        out.append((f"train {words}, 1 epoch", setting, fig, ref_s))
    for step, words in (("vit_eager", "eager"), ("vit_compile", "`torch.compile`")):
        r = _json(run / f"{step}.json")
        if r and _status(run, step) == "ok":
            fig = (f"{_fmt(r['images_per_s'], ',.0f')} img/s, {_fmt(r['ms_per_step'], ',.0f')} ms/step, peak "
                   f"{_fmt(r['peak_gib'], '.1f')} GiB" + (f", first {r['first_steps_s']:.0f} s" if r["compile"] else ""))
            if r.get("notes"):
                fig += f" ({'; '.join(r['notes'])})"
            setting = f"{r['what']}, batch {r['batch']}, {r['input']} px, {r['precision']}, AdamW"
        else:
            fig, setting = f"failed: {_status(run, step)}", "ViT-L/14-336, batch 64, bf16"
        out.append((f"ViT fwd+bwd, {words}", setting, fig, "–"))
    g = _json(run / "geoclip.json")
    ref = cpu.get("geoclip_fp32_p50_ms")
    ref_s = f"p50 {_fmt(ref, ',.0f')} ms ({cpu.get('machine', 'CPU')}, fp32)" if ref else "not measured"
    for prec in ("fp32", "bf16"):
        if g and prec in g and _status(run, "geoclip") == "ok":
            fig = f"p50 {_fmt(g[prec]['p50_ms'], ',.1f')} ms, p95 {_fmt(g[prec]['p95_ms'], ',.1f')} ms"
        else:
            fig = f"failed: {_status(run, 'geoclip')}"
        out.append((f"GeoCLIP-sized predict, {prec}", (g or {}).get("what", "ViT-L/14 224 + 100k gallery") +
                    ", one 640x480 photo", fig, ref_s if prec == "fp32" else "–"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", help="the device check's output folder")
    ap.add_argument("--cpu", default=None, help="cpu_baseline.json from device_prepare.sh --cpu-baseline")
    ap.add_argument("--device", default="", help="the device's name, for the heading")
    args = ap.parse_args(argv)
    run = Path(args.run)
    cpu = (_json(Path(args.cpu)) if args.cpu else None) or {}
    table = rows(run, cpu)
    lines = [f"Device check on {args.device or 'this machine'}" + (f"; data: {cpu['data']}" if cpu.get("data") else ""),
             "", "| check | setting | figure | CPU reference |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in table]
    text = "\n".join(lines)
    (run / "table.md").write_text(text + "\n")
    raw = {"train_full": train_figures(run / "full"), "train_finetune": train_figures(run / "finetune"),
           **{k: _json(run / f"{k}.json") for k in ("vit_eager", "vit_compile", "geoclip")},
           "status": {k: _status(run, k) for k in ("full", "finetune", "vit_eager", "vit_compile", "geoclip")}}
    (run / "results.json").write_text(json.dumps({"device": args.device, "cpu": cpu, "rows": table, "raw": raw},
                                                 indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
