#!/usr/bin/env python3
"""Independent numerical reference for the lenaguard-pk analytic solution.

Solves the ODEs of reference/pk-model.md §3.1 (depot and transit chain, one central compartment, extra clearance
during dialysis sessions) with scipy's solve_ivp, restarting at every dose and session boundary, and writes
crates/pk/tests/fixtures/ode_reference.json. The covariate equations are re-implemented here from pk-model.md
§2.3 and §3.1-3.2, not taken from the Rust code, so the Rust test checks both the parameters and the solution.

Regenerate:  pip install numpy scipy && python3 tools/pk/reference_ode.py
"""

import json
import math
import pathlib

import numpy as np
from scipy.integrate import solve_ivp

RTOL = 1e-10
ATOL = 1e-16
OUT = pathlib.Path(__file__).resolve().parents[2] / "crates/pk/tests/fixtures/ode_reference.json"


def len_r1(crcl, weight, healthy, fed, on_dialysis=False):
    """LEN-R1, pk-model.md §3.1-3.2."""
    renal = 0.0 if on_dialysis or crcl <= 0 else 11.4 / (1.0 + (56.0 / crcl) ** 3.25)
    cl = 2.6 + renal
    v = 68.8 * weight / 70.0
    if healthy:
        cl, v = cl / 0.71, v / 0.71
    if fed:
        n, ktr, lag, f = 1, 0.71, 0.18, 0.80
    else:
        n, ktr, lag, f = 8, 13.5, 0.0, 1.0
    return dict(cl=cl, v=v, n=n, ktr=ktr, lag=lag, f=f, cl_hd=7.0)


def guglieri_lopez(crcl, bsa):
    """Guglieri-López 2017 as coded by Hughes et al., pk-model.md §2.3."""
    cl = 14.0 * (1.0 + 0.0065 * (crcl - 90.0))
    v = 57.0 * (1.0 + 1.37 * (bsa - 1.73))
    return dict(cl=cl, v=v, n=4, ktr=6.55, lag=0.0, f=1.0, cl_hd=0.0)


def solve(p, doses, sessions, times):
    n, ktr, k, khd, v = p["n"], p["ktr"], p["cl"] / p["v"], p["cl_hd"] / p["v"], p["v"]
    inputs = sorted((t + p["lag"], a * p["f"]) for t, a in doses)
    edges = sorted({0.0, times[-1]} | {t for t, _ in inputs} | {s for s, d in sessions} | {s + d for s, d in sessions})
    edges = [e for e in edges if e <= times[-1]]

    def on_dialysis(t):
        return any(s <= t < s + d for s, d in sessions)

    y = np.zeros(n + 2)  # chain (n), central, ∫central dt
    out_c = np.full(len(times), np.nan)
    out_auc = np.full(len(times), np.nan)
    times = np.asarray(times)
    for i, (t0, t1) in enumerate(zip(edges[:-1], edges[1:])):
        for t, a in inputs:
            if t == t0:
                y[0] += a
        # Outputs at t0 (pre-dose, as the Rust code reports) and inside the segment.
        sel = (times >= t0) & (times < t1) if i < len(edges) - 2 else (times >= t0) & (times <= t1)
        mid = 0.5 * (t0 + t1)
        kk = k + (khd if on_dialysis(mid) else 0.0)

        def rhs(_t, s, kk=kk):
            d = np.empty_like(s)
            d[0] = -ktr * s[0]
            for j in range(1, n):
                d[j] = ktr * (s[j - 1] - s[j])
            d[n] = ktr * s[n - 1] - kk * s[n]
            d[n + 1] = s[n]
            return d

        at_start = sel & (times == t0)
        if at_start.any():
            # A dose given exactly at t0 is still in the depot: concentration is the pre-dose value.
            out_c[at_start] = y[n] / v
            out_auc[at_start] = y[n + 1] / v
        inside = sel & (times > t0)
        # The segment end is always evaluated so the next segment starts from it.
        t_eval = np.append(times[inside & (times < t1)], t1)
        sol = solve_ivp(rhs, (t0, t1), y, method="DOP853", rtol=RTOL, atol=ATOL, t_eval=t_eval)
        if not sol.success:
            raise RuntimeError(sol.message)
        n_inner = int((inside & (times < t1)).sum())
        out_c[inside & (times < t1)] = sol.y[n, :n_inner] / v
        out_auc[inside & (times < t1)] = sol.y[n + 1, :n_inner] / v
        y = sol.y[:, -1].copy()
        at_end = sel & (times == t1)
        if at_end.any():
            out_c[at_end] = y[n] / v
            out_auc[at_end] = y[n + 1] / v
    assert not np.isnan(out_c).any()
    return (out_c * 1000.0).tolist(), (out_auc * 1000.0).tolist()


def daily(dose, days, hour):
    return [(d * 24.0 + hour, dose) for d in range(days)]


def cases():
    grid = lambda end, step: [round(i * step, 10) for i in range(int(round(end / step)) + 1)]
    out = []

    def add(name, model, cov, schedule, doses, sessions, times, params):
        c, auc = solve(params, doses, sessions, times)
        out.append(dict(name=name, model=model, covariates=cov, schedule=schedule,
                        doses=[dict(time_h=t, amount_mg=a) for t, a in doses],
                        dialysis=[dict(start_h=s, duration_h=d) for s, d in sessions],
                        params=params, times_h=times, conc_ng_ml=c, cum_auc_ng_h_ml=auc))

    cov = dict(crcl_ml_min=90.0, weight_kg=70.0, healthy=False, fed=False)
    add("len-r1 single 25 mg, CrCl 90", "len-r1", cov, dict(kind="once_daily", dose_mg=25.0, days=1, hour=0.0),
        daily(25.0, 1, 0.0), [], grid(48.0, 0.25), len_r1(90.0, 70.0, False, False))

    cov = dict(crcl_ml_min=40.0, weight_kg=70.0, healthy=False, fed=False)
    doses = [(c * 28 * 24.0 + d * 24.0 + 9.0, 10.0) for c in range(2) for d in range(21)]
    add("len-r1 10 mg days 1-21 of 28, 2 cycles, CrCl 40", "len-r1", cov,
        dict(kind="cycles", dose_mg=10.0, days_on=21, cycle_days=28, cycles=2, hour=9.0),
        doses, [], grid(56 * 24.0, 2.0), len_r1(40.0, 70.0, False, False))

    cov = dict(crcl_ml_min=23.0, weight_kg=82.0, healthy=False, fed=False)
    add("len-r1 15 mg every 48 h, CrCl 23", "len-r1", cov, dict(kind="every", dose_mg=15.0, interval_h=48.0, doses=10, first_h=8.0),
        [(8.0 + 48.0 * i, 15.0) for i in range(10)], [], grid(21 * 24.0, 1.0), len_r1(23.0, 82.0, False, False))

    cov = dict(crcl_ml_min=65.0, weight_kg=60.0, healthy=False, fed=False)
    doses = [(d * 24.0 + 8.0, 25.0) for d in range(14) if not (4 <= d <= 6)]
    add("len-r1 25 mg daily 14 days, held days 5-7, CrCl 65", "len-r1", cov,
        dict(kind="once_daily", dose_mg=25.0, days=14, hour=8.0, interruption=[5, 7]),
        doses, [], grid(16 * 24.0, 0.5), len_r1(65.0, 60.0, False, False))

    cov = dict(dialysis=True, weight_kg=70.0, healthy=False, fed=False)
    doses, sessions = [], []
    for d in range(14):
        if d % 7 in (0, 2, 4):
            sessions.append((d * 24.0 + 8.0, 4.0))
            doses.append((d * 24.0 + 12.0, 5.0))
        else:
            doses.append((d * 24.0 + 12.0, 5.0))
    add("len-r1 ESRD 5 mg daily after dialysis (sessions days 0,2,4 08:00-12:00)", "len-r1", cov,
        dict(kind="daily_after_dialysis", dose_mg=5.0, days=14, hour=12.0, weekdays=[0, 2, 4], session_start=8.0, session_h=4.0),
        doses, sessions, grid(16 * 24.0, 0.5), len_r1(0.0, 70.0, False, False, on_dialysis=True))

    cov = dict(crcl_ml_min=60.0, weight_kg=80.0, bsa_m2=1.9, healthy=False, fed=False)
    add("guglieri-lopez single 25 mg, CrCl 60, BSA 1.9", "guglieri-lopez-2017", cov,
        dict(kind="once_daily", dose_mg=25.0, days=1, hour=0.0), daily(25.0, 1, 0.0), [], grid(36.0, 0.1),
        guglieri_lopez(60.0, 1.9))

    cov = dict(crcl_ml_min=105.0, weight_kg=70.0, healthy=True, fed=True)
    add("len-r1 healthy fed 25 mg daily 3 days, CrCl 105", "len-r1", cov,
        dict(kind="once_daily", dose_mg=25.0, days=3, hour=7.0), daily(25.0, 3, 7.0), [], grid(96.0, 0.25),
        len_r1(105.0, 70.0, True, True))

    # ka (0.71/h) within 0.3% of k: the near-degenerate case of the closed form.
    cov = dict(crcl_ml_min=250.0, weight_kg=20.0, healthy=True, fed=True)
    add("len-r1 healthy fed 20 kg CrCl 250 (ka ~ k)", "len-r1", cov,
        dict(kind="once_daily", dose_mg=5.0, days=2, hour=0.0), daily(5.0, 2, 0.0), [], grid(60.0, 0.25),
        len_r1(250.0, 20.0, True, True))
    return out


def main():
    data = dict(
        generator="tools/pk/reference_ode.py",
        solver=f"scipy.integrate.solve_ivp DOP853 rtol={RTOL} atol={ATOL}, restarted at every dose and session edge",
        units=dict(conc="ng/mL", auc="ng*h/mL, cumulative from 0", time="h"),
        cases=cases(),
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT} ({len(data['cases'])} cases)")


if __name__ == "__main__":
    main()
