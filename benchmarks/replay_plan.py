"""Replay study (accuracy, not speed): a planned sampling design against a uniform one.

Logs with large per-item budgets are replayed: attempts are drawn **without replacement** from
what each item recorded, so a design can be tried after the fact.  For each seeded repeat two
designs with the same total budget are compared:

* uniform: every item gets the same number of attempts;
* planned: a uniform first round, then the remaining budget spent in planned rounds
  (:func:`scalefit.sampling.sample_in_rounds`: plan, sample, refit, plan), the planner
  minimising the expected posterior variance of the forecast at the target N.

With ``--families plausible`` a third design, ``planned+families``, plans the same first round's
rounds against the mixture of the tail families the first round cannot reject
(``families="plausible"``; ``--family-draws T`` refits of each), with two more point forecasts of
its data (the first-round family; the families averaged by their prequential weights).

Both are forecast with scalefit's default (:func:`scalefit.sampling.fit_bon` + 90% intervals
from the whole-procedure bootstrap) and compared with what the full log shows.

* Pythia MATH (Large Language Monkeys): per problem k of 10,000 successes; a draw of m further
  attempts from what is left is hypergeometric.  Budget 100 per problem (12,800 per model),
  forecast the fresh pass@1000 and pass@10000; truth: the unbiased pass@N of all 10,000.
* Best-of-N jailbreaking log (Llama-3-8B): attempts replayed in recorded order (each item's next
  attempts), budget 60 per behaviour (9,540), forecast the continued ASR@1020; truth: the share of
  behaviours whose first success came at attempt <= 1020.

Usage:  python benchmarks/replay_plan.py [--repeats 5] [--which pythia,jailbreak] [--first 20]
        [--rounds 3] [--bootstrap 200] [--parameter-draws T] [--families plausible] [--depth K] [--even]
Results of a run are recorded in benchmarks/README.md ("Planned sampling").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import shared_data_dir  # noqa: E402


def _forecast(data, Ns, target, seed, bootstrap):
    from scalefit.sampling import fit_bon

    bon = fit_bon(data, seed=seed)
    fc = bon.predict_forecast(Ns, target=target, num_bootstrap=bootstrap, seed=seed)
    return fc


def _record(rows, group, rep, design, fc, truth, Ns, seconds, extra=None):
    for j, NN in enumerate(Ns):
        rows.append({"group": group, "repeat": rep, "design": design, "N": NN,
                     "predicted": float(fc.estimate[j]), "lower": float(fc.lower[j]), "upper": float(fc.upper[j]),
                     "truth": float(truth[j]), "seconds": seconds, **(extra or {})})


def pythia(args, rows):
    from scalefit.sampling import item_data, mean_pass_at_k, sample_in_rounds
    from scalefit.sampling.holdout import AttemptPool, thin_counts

    frame = pd.read_csv(shared_data_dir() / "repeated_sampling" / "pythia_math_final_counts.csv")
    Ns = [1000.0, 10000.0]
    for model, g in frame.groupby("model"):
        n_full = g["n_samples"].to_numpy(np.int64)
        c_full = g["n_correct"].to_numpy(np.int64)
        truth = np.atleast_1d(mean_pass_at_k(n_full, c_full, np.asarray(Ns, np.int64)))
        I = len(n_full)
        for r in range(args.repeats):
            rng = np.random.default_rng([args.seed, r])
            # uniform design: budget per problem, drawn without replacement
            t0 = time.perf_counter()
            k_u = thin_counts(n_full, c_full, args.pythia_budget, rng)
            if k_u.sum() == 0:
                print(f"{model} repeat {r}: no success in the uniform design; skipped")
                continue
            fc = _forecast(item_data(args.pythia_budget, k_u), Ns, "fresh", args.seed + r, args.bootstrap)
            _record(rows, model, r, "uniform", fc, truth, Ns, time.perf_counter() - t0)
            # planned design: a uniform first round, then planned rounds from what is left
            t0 = time.perf_counter()
            rng = np.random.default_rng([args.seed, r, 1])
            pool = AttemptPool(n_full, c_full)
            k0 = pool.draw(args.first, rng)
            pool_n = pool.n
            sampler = partial(pool.draw, rng=rng)
            data0 = item_data(args.first, k0)
            if k0.sum() == 0:
                print(f"{model} repeat {r}: no success in the first round; skipped")
                continue
            res = sample_in_rounds(data0, sampler, (args.pythia_budget - args.first) * I, Ns[-1],
                                   rounds=args.rounds, target="fresh", model=args.plan_model,
                                   max_attempts=pool_n, forecast_N=Ns, num_bootstrap=args.bootstrap,
                                   seed=args.seed + r, fit_options={"seed": args.seed + r})
            n_pl = res.data.n
            _record(rows, model, r, "planned", res.forecast, truth, Ns, time.perf_counter() - t0,
                    {"max_n": int(n_pl.max()), "items_over_first": int((n_pl > args.first).sum())})
            last = rows[-1]
            print(f"{model} r{r}: uniform {rows[-4]['predicted']:.3f}/{rows[-3]['predicted']:.3f} "
                  f"planned {rows[-2]['predicted']:.3f}/{last['predicted']:.3f} truth {truth[0]:.3f}/{truth[1]:.3f} "
                  f"(planned budget max {last['max_n']}, {last['items_over_first']} items sampled further)",
                  flush=True)
            if args.parameter_draws:
                # the same first round, planned with the population parameters' uncertainty counted
                t0 = time.perf_counter()
                rng = np.random.default_rng([args.seed, r, 1])
                pool2 = AttemptPool(n_full, c_full)
                k0 = pool2.draw(args.first, rng)
                sampler2 = partial(pool2.draw, rng=rng)
                res = sample_in_rounds(item_data(args.first, k0), sampler2, (args.pythia_budget - args.first) * I, Ns[-1],
                                       rounds=args.rounds, target="fresh", model=args.plan_model,
                                       max_attempts=n_full - args.first, forecast_N=Ns, num_bootstrap=args.bootstrap,
                                       seed=args.seed + r, fit_options={"seed": args.seed + r},
                                       parameter_draws=args.parameter_draws)
                _record(rows, model, r, "planned+param", res.forecast, truth, Ns, time.perf_counter() - t0,
                        {"max_n": int(res.data.n.max())})
                print(f"   planned+param: {rows[-2]['predicted']:.3f}/{rows[-1]['predicted']:.3f}", flush=True)
            if args.families:
                # the same first round, planned against the plausible tail families (and refit on the family that
                # predicted the planned rounds best)
                t0 = time.perf_counter()
                rng = np.random.default_rng([args.seed, r, 1])
                k0 = rng.hypergeometric(c_full, n_full - c_full, args.first)
                pool3 = [n_full - args.first, c_full - k0]

                def sampler3(a, pool=pool3, rng=rng):
                    succ = rng.hypergeometric(pool[1], pool[0] - pool[1], a)
                    pool[0] = pool[0] - a
                    pool[1] = pool[1] - succ
                    return succ

                res = sample_in_rounds(item_data(args.first, k0), sampler3, (args.pythia_budget - args.first) * I, Ns[-1],
                                       rounds=args.rounds, target="fresh", model=args.plan_model,
                                       max_attempts=n_full - args.first, forecast_N=Ns, num_bootstrap=args.bootstrap,
                                       seed=args.seed + r, fit_options={"seed": args.seed + r},
                                       parameter_draws=args.family_draws, families=args.families)
                fam = res.families
                picked = res.fit.model if fam is None else "/".join(
                    f"{f}{'*' if c else ''}" for f, c in zip(fam["family"], fam["chosen"]))
                _record(rows, model, r, "planned+families", res.forecast, truth, Ns, time.perf_counter() - t0,
                        {"max_n": int(res.data.n.max()), "items_over_first": int((res.data.n > args.first).sum()),
                         "final_family": res.fit.model})
                print(f"   planned+families: {rows[-2]['predicted']:.3f}/{rows[-1]['predicted']:.3f} "
                      f"(max {rows[-1]['max_n']}, {rows[-1]['items_over_first']} items sampled further; {picked})",
                      flush=True)
                if fam is not None:
                    # the same planned data forecast two other ways (point forecasts): with the family chosen on the
                    # first round, and averaged over the families with their prequential weights
                    from scalefit.sampling import fit_bon

                    pts = {f: np.array([fit_bon(res.data, model=f, seed=args.seed + r).fit.solve_probabilities(
                        res.data, NN, target="fresh").mean() for NN in Ns]) for f in fam["family"]}
                    start = pts[fam["family"].iloc[0]]
                    avg = sum(w * pts[f] for f, w in zip(fam["family"], fam["weight"]))
                    for label, est in (("planned+families, first-round family", start),
                                       ("planned+families, weighted", avg)):
                        for j, NN in enumerate(Ns):
                            rows.append({"group": model, "repeat": r, "design": label, "N": NN, "predicted": float(est[j]),
                                         "lower": np.nan, "upper": np.nan, "truth": float(truth[j]), "seconds": 0.0})
                    print(f"     same data, first-round family {start[0]:.3f}/{start[1]:.3f}, weighted "
                          f"{avg[0]:.3f}/{avg[1]:.3f} (weights {np.round(fam['weight'].to_numpy(), 3).tolist()})",
                          flush=True)
            if args.depth:
                # baseline rule, pure depth: the rest of the budget in equal shares to DEPTH problems drawn at random
                # among those without a success (the family chosen on the first round, as for the planned design)
                from scalefit.sampling import fit_bon

                t0 = time.perf_counter()
                rng = np.random.default_rng([args.seed, r, 1])
                k0 = rng.hypergeometric(c_full, n_full - c_full, args.first)
                zero = np.flatnonzero(k0 == 0)
                pick = np.random.default_rng([args.seed, r, 2]).permutation(zero)[:args.depth]
                share = (args.pythia_budget - args.first) * I // max(len(pick), 1)
                add = np.zeros(I, np.int64)
                add[pick] = np.minimum(share, n_full[pick] - args.first)
                k_add = rng.hypergeometric(c_full - k0, n_full - args.first - (c_full - k0), add)
                data_d = item_data(args.first + add, k0 + k_add)
                family = fit_bon(item_data(args.first, k0), seed=args.seed + r).model
                fc = fit_bon(data_d, model=family, seed=args.seed + r).predict_forecast(
                    Ns, num_bootstrap=args.bootstrap, seed=args.seed + r)
                _record(rows, model, r, f"depth ({args.depth} unsolved)", fc, truth, Ns, time.perf_counter() - t0)
                print(f"   depth ({args.depth} unsolved, {share} each): {rows[-2]['predicted']:.3f}/"
                      f"{rows[-1]['predicted']:.3f}", flush=True)
            if args.even:
                # baseline rule: the rest of the budget in equal shares to the problems without a success
                from scalefit.sampling import fit_bon

                t0 = time.perf_counter()
                rng = np.random.default_rng([args.seed, r, 1])
                pool3 = AttemptPool(n_full, c_full)
                k0 = pool3.draw(args.first, rng)
                zero = k0 == 0
                share = (args.pythia_budget - args.first) * I // max(int(zero.sum()), 1)
                add = np.where(zero, np.minimum(share, n_full - args.first), 0)
                k_add = pool3.draw(add, rng)
                data_e = item_data(args.first + add, k0 + k_add)
                family = fit_bon(item_data(args.first, k0), seed=args.seed + r).model
                bon = fit_bon(data_e, model=family, seed=args.seed + r)
                fc = bon.predict_forecast(Ns, num_bootstrap=args.bootstrap, seed=args.seed + r)
                _record(rows, model, r, "even to unsolved", fc, truth, Ns, time.perf_counter() - t0)
                print(f"   even to unsolved: {rows[-2]['predicted']:.3f}/{rows[-1]['predicted']:.3f}", flush=True)


def jailbreak(args, rows):
    from scalefit.sampling import item_data, sample_in_rounds

    path = shared_data_dir() / "repeated_sampling" / "bon_llama3_8b_instruct_attempts.jsonl"
    log = pd.read_json(path, lines=True).sort_values(["i", "n"])
    seqs = [g["flagged"].to_numpy(bool) for _, g in log.groupby("i", sort=True)]
    I = len(seqs)
    first = np.array([np.argmax(s) + 1 if s.any() else np.inf for s in seqs])
    recorded = np.array([len(s) for s in seqs])
    N = 1020.0
    truth = [float(np.mean(first <= N))]
    B = args.jail_budget
    # uniform: every behaviour's first B attempts (one design: the log's order is fixed)
    t0 = time.perf_counter()
    k_u = np.array([s[:B].sum() for s in seqs])
    fc = _forecast(item_data(B, k_u), [N], "continued", args.seed, args.bootstrap)
    _record(rows, "llama3-8b", 0, "uniform", fc, truth, [N], time.perf_counter() - t0)
    print(f"jailbreak uniform: {fc.estimate[0]:.4f} [{fc.lower[0]:.4f}, {fc.upper[0]:.4f}] truth {truth[0]:.4f}",
          flush=True)
    for first_round in args.jail_first:
        t0 = time.perf_counter()
        used = np.full(I, first_round, np.int64)
        k0 = np.array([s[:first_round].sum() for s in seqs])

        def sampler(a, used=used):
            succ = np.zeros(I, np.int64)
            pos = np.full(I, np.nan)
            for i in np.flatnonzero(a):
                seg = seqs[i][used[i]:used[i] + a[i]]
                succ[i] = seg.sum()
                if seg.any():
                    pos[i] = np.argmax(seg) + 1
            used += a
            return succ, pos

        res = sample_in_rounds(item_data(first_round, k0), sampler, (B - first_round) * I, N, rounds=args.rounds,
                               target="continued", model=args.plan_model, max_attempts=recorded - first_round,
                               forecast_N=[N], num_bootstrap=args.bootstrap, seed=args.seed,
                               fit_options={"seed": args.seed},
                               parameter_draws=args.family_draws if args.families else args.parameter_draws,
                               families=args.families)
        # the fits use counts only (as the uniform design does), so both run the same internal backtest
        label = "planned+families" if args.families else "planned"
        _record(rows, "llama3-8b", 0, f"{label} (first {first_round})", res.forecast, truth, [N],
                time.perf_counter() - t0, {"max_n": int(res.data.n.max())})
        fc = res.forecast
        print(f"jailbreak {label} (first round {first_round}): {fc.estimate[0]:.4f} [{fc.lower[0]:.4f}, "
              f"{fc.upper[0]:.4f}] truth {truth[0]:.4f}; largest budget {int(res.data.n.max())}; "
              f"final family {res.fit.model}", flush=True)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (group_kind, N, design), g in rows.groupby(["data", "N", "design"], sort=False):
        err = g["predicted"] - g["truth"]
        cov = (g["lower"] <= g["truth"]) & (g["truth"] <= g["upper"])
        out.append({"data": group_kind, "N": int(N), "design": design, "MAE_pp": 100 * err.abs().mean(),
                    "bias_pp": 100 * err.mean(), "coverage90": cov.mean(), "width_pp": 100 * (g["upper"] - g["lower"]).mean(),
                    "forecasts": len(g), "seconds_each": g["seconds"].mean()})
    return pd.DataFrame(out)


def paired(per: pd.DataFrame) -> pd.DataFrame:
    """Per group and design: mean over repeats of |error| minus the uniform design's |error| at
    the same repeat, with its standard error (the designs share the repeat's seed)."""
    wide = per.pivot_table(index=["group", "repeat"], columns="design", values="err")
    out = []
    for design in [c for c in wide.columns if c != "uniform"]:
        for group, g in list(wide.groupby(level="group")) + [("all", wide)]:
            d = (g[design] - g["uniform"]).dropna()
            se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
            out.append({"design": design, "group": group, "diff_pp": float(d.mean()), "se_pp": se, "repeats": len(d)})
    return pd.DataFrame(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--which", default="pythia,jailbreak")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pythia-budget", type=int, default=100)
    ap.add_argument("--first", type=int, default=20, help="Pythia: attempts per problem in the uniform first round")
    ap.add_argument("--jail-budget", type=int, default=60)
    ap.add_argument("--jail-first", default="20,40", help="jailbreak: first-round budgets to try, comma-separated")
    ap.add_argument("--rounds", type=int, default=3, help="planned rounds after the first")
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--plan-model", default="auto", help="model used for planning (auto or a family)")
    ap.add_argument("--even", action="store_true",
                    help="Pythia: also the rule 'rest of the budget in equal shares to problems without a success'")
    ap.add_argument("--depth", type=int, default=0,
                    help="Pythia: also the rule 'rest of the budget in equal shares to DEPTH random problems without a "
                         "success' (pure depth)")
    ap.add_argument("--parameter-draws", type=int, default=0,
                    help="Pythia: also a design planned with the population parameters' uncertainty counted (T bootstrap "
                         "refits; 'planned+param'); jailbreak: the planned designs use it")
    ap.add_argument("--families", choices=["plausible"], default=None,
                    help="Pythia: also a design planned against the plausible tail families ('planned+families'); "
                         "jailbreak: the planned designs use it")
    ap.add_argument("--family-draws", type=int, default=0,
                    help="with --families: bootstrap refits per family (T; 0: each family's point fit)")
    ap.add_argument("--json", help="write the per-forecast rows as JSON")
    args = ap.parse_args(argv)
    args.jail_first = [int(v) for v in args.jail_first.split(",") if v]
    import scalefit

    scalefit.enable_x64()
    t0 = time.perf_counter()
    rows_p, rows_j = [], []
    which = args.which.split(",")
    if "pythia" in which:
        pythia(args, rows_p)
    if "jailbreak" in which:
        jailbreak(args, rows_j)
    frames = []
    if rows_p:
        frames.append(pd.DataFrame(rows_p).assign(data="pythia"))
    if rows_j:
        frames.append(pd.DataFrame(rows_j).assign(data="jailbreak"))
    rows = pd.concat(frames, ignore_index=True)
    summ = summarise(rows)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print()
        print(summ.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        if rows_p:
            print("\nPythia, per model (MAE pp at pass@10000):")
            per = rows[(rows["data"] == "pythia") & (rows["N"] == 10000.0)].assign(
                err=lambda d: 100 * (d["predicted"] - d["truth"]).abs())
            print(per.pivot_table(index="group", columns="design", values="err", aggfunc="mean").to_string(
                float_format=lambda v: f"{v:.2f}"))
            print("\nPaired over repeats (same seed): |error| of the design minus the uniform design's, pp at "
                  "pass@10000, mean +- its standard error (negative: the design is better):")
            print(paired(per).to_string(index=False, float_format=lambda v: f"{v:+.2f}"))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(rows.to_dict(orient="records"), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
