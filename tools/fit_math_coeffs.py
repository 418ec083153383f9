#!/usr/bin/env python3
"""Derive the polynomial coefficients of src/cpp/math/exp.hpp and log.hpp (Remez exchange).

Run:  python3 tools/fit_math_coeffs.py            (needs mpmath; about a minute)

Each fit is a weighted minimax problem, min over c of max_t |w(t) (g(t) - sum_j c_j t^j)|,
solved by the linear Remez exchange in 60-digit mpmath arithmetic. The printed coefficients
are rounded to the target precision (float32: 9 significant digits, float64: 17), which is
what the headers hold; the final error of the C++ code is then measured exhaustively
(float32) or on >= 10^8 samples (float64) by tests/test_math_ulp.py.

- exp:  exp(r) ~ 1 + r + r^2 P(r) on |r| <= ln2/2 (1 + 2^-8) (the margin covers the rounding
        of n = round(x log2e) for |x| up to 2^15 ln2, the range of exp_reduced), with
        P minimax in the relative error of exp:  g = (e^r - 1 - r) / r^2,  w = r^2 e^-r.
- log:  log(1 + f) = f - s (f - R(z)),  s = f / (2 + f),  z = s^2, |s| <= 3 - 2 sqrt(2),
        R(z) = 2 atanh(s)/s - 2 = z H(z), H minimax in the error of R relative to
        log(1 + f) ~ 2 s:  g = H,  w = z.
- log1p_unit (kernels/softplus.hpp, softplus_tail): log1p(e) = e + e^2 H(e) on e in [0, 1]
        (e = exp(-|x|)), H minimax in the relative error of log1p(e):
        g = (log1p(e) - e) / e^2,  w = e^2 / log1p(e).
"""

from __future__ import annotations

import mpmath as mp

mp.mp.dps = 60


def remez(g, w, n_coef, a, b, iters=40, grid=6000):
    """Minimax c (n_coef entries, c_j multiplies t^j) of w(t) (g(t) - sum c_j t^j) on [a, b]."""
    a, b = mp.mpf(a), mp.mpf(b)
    n_ref = n_coef + 1
    # Chebyshev extrema as the first reference, kept away from zeros of w.
    ref = [
        (a + b) / 2 - (b - a) / 2 * mp.cos(mp.pi * (i + mp.mpf(0.45)) / n_ref) for i in range(n_ref)
    ]
    pts = [a + (b - a) * mp.mpf(i) / (grid - 1) for i in range(grid)]
    gvals = {}

    def gv(t):
        key = mp.nstr(t, 50)
        if key not in gvals:
            gvals[key] = (g(t), w(t))
        return gvals[key]

    best = None
    for _ in range(iters):
        A = mp.matrix(n_ref, n_ref)
        rhs = mp.matrix(n_ref, 1)
        for i, t in enumerate(ref):
            gt, wt = gv(t)
            for j in range(n_coef):
                A[i, j] = t**j
            A[i, n_coef] = (-1) ** i / wt
            rhs[i] = gt
        sol = mp.lu_solve(A, rhs)
        c = [sol[j] for j in range(n_coef)]
        level = abs(sol[n_coef])

        def err(t, c=c):
            gt, wt = gv(t)
            return wt * (gt - mp.polyval(c[::-1], t))

        vals = [err(t) for t in pts]
        # Local extrema of the error on the grid, refined by a golden-section search.
        ext = []
        for i in range(grid):
            left = vals[i - 1] if i > 0 else None
            right = vals[i + 1] if i < grid - 1 else None
            v = vals[i]
            if (left is None or abs(v) >= abs(left)) and (right is None or abs(v) >= abs(right)):
                if v != 0:
                    ext.append((pts[i], v))
        # Keep alternating signs, the larger of neighbours of equal sign.
        alt = []
        for t, v in ext:
            if alt and mp.sign(alt[-1][1]) == mp.sign(v):
                if abs(v) > abs(alt[-1][1]):
                    alt[-1] = (t, v)
            else:
                alt.append((t, v))
        while len(alt) > n_ref:  # drop the smaller end
            if abs(alt[0][1]) < abs(alt[-1][1]):
                alt.pop(0)
            else:
                alt.pop()
        max_err = max(abs(v) for v in vals)
        best = (c, max_err, level)
        if len(alt) < n_ref:
            break
        ref = [t for t, _ in alt]
        if max_err - level < level * mp.mpf("1e-6"):
            break
    return best


def show(name, coefs, digits, max_err, level):
    print(
        f"{name}: max weighted error {mp.nstr(max_err, 5)} = 2^{mp.nstr(mp.log(max_err, 2), 5)}"
        f" (equioscillation level {mp.nstr(level, 5)})"
    )
    for j, cj in enumerate(coefs):
        print(f"  c{j} = {mp.nstr(cj, digits, strip_zeros=False)}")


def fit_exp(n_coef, margin, digits):
    h = mp.log(2) / 2 * (1 + mp.mpf(margin))

    def g(r):
        if abs(r) < mp.mpf("1e-20"):
            return mp.mpf(1) / 2 + r / 6
        return (mp.exp(r) - 1 - r) / r**2

    def w(r):
        return r**2 * mp.exp(-r)

    c, e, lev = remez(g, w, n_coef, -h, h)
    show(f"exp: 1 + r + r^2 P(r), P of degree {n_coef - 1}", c, digits, e, lev)


def fit_log(n_coef, digits):
    s_max = 3 - 2 * mp.sqrt(2)
    z_max = (s_max * (1 + mp.mpf("1e-6"))) ** 2

    def g(z):
        if z < mp.mpf("1e-30"):
            return mp.mpf(2) / 3
        s = mp.sqrt(z)
        return (2 * mp.atanh(s) / s - 2) / z

    def w(z):
        return z

    c, e, lev = remez(g, w, n_coef, mp.mpf("1e-40"), z_max)
    show(f"log: R(z) = z H(z), H of degree {n_coef - 1}", c, digits, e, lev)


def fit_log1p_unit(n_coef, digits):
    def g(e):
        if e < mp.mpf("1e-25"):
            return -mp.mpf(1) / 2 + e / 3
        return (mp.log1p(e) - e) / e**2

    def w(e):
        if e < mp.mpf("1e-25"):
            return e
        return e**2 / mp.log1p(e)

    c, e, lev = remez(g, w, n_coef, mp.mpf("1e-30"), 1)
    show(f"log1p_unit: e + e^2 H(e), H of degree {n_coef - 1}", c, digits, e, lev)


if __name__ == "__main__":
    import sys

    which = sys.argv[1:] or ["all"]
    if "all" in which or "exp32" in which:
        fit_exp(5, "0.00390625", 9)
    if "all" in which or "exp64" in which:
        fit_exp(10, "0.00390625", 17)
    if "all" in which or "log32" in which:
        fit_log(3, 9)
    if "all" in which or "log64" in which:
        fit_log(7, 17)
    if "all" in which or "log1p_unit32" in which:
        fit_log1p_unit(8, 9)
