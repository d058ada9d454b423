"""Generate scalefit's bundled example datasets from known laws (see README.md beside this file).

Run:  python -m scalefit.examples.generate   (deterministic; seeds fixed below)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent

#: true Chinchilla parameters (Besiroglu et al. 2024 point estimate)
CHINCHILLA_TRUE = {"E": 1.8172, "A": 482.01, "B": 2085.43, "alpha": 0.3478, "beta": 0.3658}
CHINCHILLA_NOISE_SD = 0.01  # log-normal noise on the loss
POWER_TRUE = {"E": 1.5, "A": 50.0, "alpha": 0.3}
POWER_NOISE_SD = 0.005
BON_TRUE = {"alpha": 0.4, "beta": 4.0, "n_items": 150, "n_attempts": 100}


def chinchilla_loss(N, D, p=CHINCHILLA_TRUE):
    return p["E"] + p["A"] * N ** (-p["alpha"]) + p["B"] * D ** (-p["beta"])


def make_chinchilla(seed: int = 20240417) -> pd.DataFrame:
    """IsoFLOP design: 7 budgets from 6e18 to 3e21 FLOPs, 9 model sizes per budget."""
    rng = np.random.default_rng(seed)
    rows = []
    for C in np.geomspace(6e18, 3e21, 7):
        n_opt = 0.12 * (C / 6) ** 0.51
        for f in np.geomspace(1 / 8, 8, 9):
            N = float(np.round(n_opt * f, -3))
            D = C / (6 * N)
            L = chinchilla_loss(N, D) * math.exp(rng.normal(0, CHINCHILLA_NOISE_SD))
            rows.append({"run": f"C{C:.1e}_N{N:.2e}", "N": N, "D": D, "C": C, "loss": round(L, 6)})
    return pd.DataFrame(rows)


def make_power_law(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.geomspace(1e6, 1e9, 10)
    p = POWER_TRUE
    y = (p["E"] + p["A"] * x ** (-p["alpha"])) * np.exp(rng.normal(0, POWER_NOISE_SD, x.size))
    return pd.DataFrame({"N": x, "loss": np.round(y, 6)})


def make_bon_counts(seed: int = 11) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    b = BON_TRUE
    p = rng.beta(b["alpha"], b["beta"], b["n_items"])
    k = rng.binomial(b["n_attempts"], p)
    return pd.DataFrame({"item": np.arange(b["n_items"]), "n": b["n_attempts"], "k": k})


def main() -> None:
    make_chinchilla().to_csv(HERE / "chinchilla_synthetic.csv", index=False)
    make_power_law().to_csv(HERE / "power_law_synthetic.csv", index=False)
    make_bon_counts().to_csv(HERE / "bon_synthetic_counts.csv", index=False)
    truth = {"chinchilla_synthetic.csv": {**CHINCHILLA_TRUE, "log_noise_sd": CHINCHILLA_NOISE_SD},
             "power_law_synthetic.csv": {**POWER_TRUE, "log_noise_sd": POWER_NOISE_SD},
             "bon_synthetic_counts.csv": BON_TRUE}
    (HERE / "TRUTH.json").write_text(json.dumps(truth, indent=1) + "\n")


if __name__ == "__main__":
    main()
