"""Futures scanner: weighted consensus of six trend/momentum votes, a volatility
regime that scales confidence, overextension and trap blocks, and a trade plan.

Indicators (TA-Lib conventions, one fused O(1) step, see
:mod:`detectors.patterns.futures_core`): EMA ``ema_fast``/``ema_slow`` (20/50),
MACD 12/26/9, RSI 14, StochRSI 14/14/3, OBV with its EMA 20, Supertrend 10 x 3,
ADX 14, Bollinger 20 x 2, ATR 14.

Votes, each in [-1, 1]:

* ``ema``: +1 when ``ema_fast > ema_slow`` and close > ``ema_fast``, -1 for the
  mirror, otherwise +/-0.5 by the sign of ``ema_fast - ema_slow`` (0 if equal);
* ``macd``: sign of the histogram;
* ``rsi``: ``clamp((rsi - 50) / 20, -1, 1)``;
* ``stochrsi``: sign of ``k - d``;
* ``obv``: sign of ``obv - ema(obv)``;
* ``supertrend``: its direction.

``consensus = sum(w_i * vote_i) / sum(w_i)`` with weights ``w_ema`` 0.25,
``w_macd`` 0.2, ``w_rsi`` 0.15, ``w_stochrsi`` 0.1, ``w_obv`` 0.1,
``w_supertrend`` 0.2 (any non-negative values with a positive sum).

Regime: ``high_volatility`` when Bollinger width / its mean over the last
``bbw_lookback`` (50) bars >= ``hv_ratio`` (1.5); else ``trending`` when ADX >=
``adx_trend`` (25); else ``ranging``. Confidence multiplier ``conf_trending``
1.0, ``conf_ranging`` 0.7, ``conf_high_vol`` 0.6. ``score = 100 * |consensus| *
multiplier``.

Side: a long run starts when ``consensus >= entry_threshold`` (0.5) and lasts
while ``consensus >= exit_threshold`` (0.25); short runs mirror it; otherwise
flat. Each run signals once, on its first bar (hysteresis keeps a consensus that
hovers around 0.5 from re-signalling):

* blocks (checked in the signal's direction): *overextension* when close is
  more than ``overext_atr`` (2.0) ATR beyond ``ema_fast``; *trap* when the bar's
  wick against the trade is >= ``trap_wick`` (0.5) of its range or the bar's
  range is >= ``trap_range_atr`` (2.5) times the ATR before it (an oversized
  candle). A blocked entry emits ``FUTURES_LONG_BLOCKED`` /
  ``FUTURES_SHORT_BLOCKED`` once per run (no trade plan) and the run stays
  armed: its next unblocked bar emits the entry;
* otherwise ``FUTURES_LONG`` / ``FUTURES_SHORT`` with a trade plan: entry =
  close, stop = entry -/+ ``stop_atr`` (1.5) ATR, tp1/tp2 = entry +/-
  ``tp1_atr`` (2.0) / ``tp2_atr`` (3.5) ATR, ``eta_bars`` = ceil(distance to tp1
  / the last bar's ``ema_fast`` move) when that move points the trade's way,
  capped at ``max_eta_bars`` (200), else None.

Features: consensus, each vote, regime, confidence multiplier, adx, bb_width,
bbw_ratio, rsi, stoch k/d, macd hist, atr, atr_pct, ema distance in ATR,
ema_slope (the last bar's ``ema_fast`` move), supertrend line, block reasons.

Warm-up: every indicator defined (69 bars with the defaults). Gaps: bars, not
minutes (a gap joins the bars either side); invalid bars never enter state.
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from detectors.base import BarArrays, SeriesMeta
from detectors.patterns import futures_core
from detectors.patterns.compiled_state import CompiledStateDetector
from detectors.records import Signal, TradePlan

#: block reasons for each ``blocks`` bit mask, in the documented order
_REASONS = tuple(tuple(name for bit, name in enumerate(futures_core.BLOCKS) if mask >> bit & 1)
                 for mask in range(1 << len(futures_core.BLOCKS)))
#: signal type by ``2 * short + blocked`` and direction by ``short``
_TYPES = np.array(["FUTURES_LONG", "FUTURES_LONG_BLOCKED", "FUTURES_SHORT", "FUTURES_SHORT_BLOCKED"], dtype=object)
_DIRECTIONS = np.array(["bullish", "bearish"], dtype=object)
_REGIMES = np.array(["high_volatility", "trending", "ranging"], dtype=object)


class FuturesConsensusParams(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    ema_fast: int = 20
    ema_slow: int = 50
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    rsi_period: int = 14
    stoch_k: int = 14
    stoch_d: int = 3
    obv_ema: int = 20
    atr_period: int = 14
    st_period: int = 10
    st_mult: float = 3.0
    adx_period: int = 14
    bb_period: int = 20
    bb_dev: float = 2.0
    bbw_lookback: int = 50
    w_ema: float = 0.25
    w_macd: float = 0.2
    w_rsi: float = 0.15
    w_stochrsi: float = 0.1
    w_obv: float = 0.1
    w_supertrend: float = 0.2
    adx_trend: float = 25.0
    hv_ratio: float = 1.5
    conf_trending: float = 1.0
    conf_ranging: float = 0.7
    conf_high_vol: float = 0.6
    entry_threshold: float = 0.5
    exit_threshold: float = 0.25
    overext_atr: float = 2.0
    trap_wick: float = 0.5
    trap_range_atr: float = 2.5
    stop_atr: float = 1.5
    tp1_atr: float = 2.0
    tp2_atr: float = 3.5
    max_eta_bars: int = 200


class FuturesConsensus(CompiledStateDetector):
    name = "futures_consensus"
    version = "1.0.0"
    Params = FuturesConsensusParams
    params: FuturesConsensusParams
    core = futures_core

    def _check_params(self) -> None:
        p = self.params
        where = f"detector {self.name}"
        periods = ("ema_fast", "ema_slow", "macd_fast", "macd_slow", "macd_signal", "rsi_period",
                   "stoch_k", "stoch_d", "obv_ema", "atr_period", "st_period", "adx_period",
                   "bb_period", "bbw_lookback", "max_eta_bars")
        for f in periods:
            if getattr(p, f) < 1:
                raise ValueError(f"{where}: {f} must be >= 1, got {getattr(p, f)}")
        if p.bb_period < 2:
            raise ValueError(f"{where}: bb_period must be >= 2, got {p.bb_period}")
        if p.macd_fast >= p.macd_slow:
            raise ValueError(f"{where}: macd_fast must be < macd_slow, got {p.macd_fast} >= {p.macd_slow}")
        weights = (p.w_ema, p.w_macd, p.w_rsi, p.w_stochrsi, p.w_obv, p.w_supertrend)
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError(f"{where}: weights must be >= 0 with a positive sum, got {weights}")
        if not (0 < p.entry_threshold <= 1) or not (0 <= p.exit_threshold <= p.entry_threshold):
            raise ValueError(f"{where}: need 0 < entry_threshold <= 1 and 0 <= exit_threshold <= "
                             f"entry_threshold, got {p.entry_threshold}, {p.exit_threshold}")
        for f in ("st_mult", "bb_dev", "hv_ratio", "overext_atr", "trap_wick", "trap_range_atr",
                  "stop_atr", "tp1_atr", "tp2_atr"):
            if getattr(p, f) <= 0:
                raise ValueError(f"{where}: {f} must be > 0, got {getattr(p, f)}")
        self._wsum = sum(weights)

    @property
    def warmup(self) -> int:
        return futures_core.warmup(self.params)

    def _core_params(self) -> np.ndarray:
        return futures_core.params_vector(self.params, self._wsum)

    # ---- one signal, built from the same values on both paths ---------------------------
    def _signal(self, meta: SeriesMeta | None, t: int, h: float, lo: float, c: float,
                side: float, blocks: float, cons: float,
                v_ema: float, v_macd: float, v_rsi: float, v_st: float, v_obv: float, v_sup: float,
                adx: float, bbw: float, bbw_mean: float, rsi: float, k: float, d: float, hist: float,
                atr: float, ext: float, ef: float, ef_prev: float, st_line: float) -> Signal:
        p = self.params
        side = int(side)
        bbw_ratio = bbw / bbw_mean if bbw_mean > 0 else 0.0
        if bbw_ratio >= p.hv_ratio:
            regime, mult = "high_volatility", p.conf_high_vol
        elif adx >= p.adx_trend:
            regime, mult = "trending", p.conf_trending
        else:
            regime, mult = "ranging", p.conf_ranging
        reasons = list(_REASONS[int(blocks)])
        slope = ef - ef_prev
        features = {
            "consensus": cons, "votes": {"ema": v_ema, "macd": v_macd, "rsi": v_rsi, "stochrsi": v_st,
                                         "obv": v_obv, "supertrend": v_sup},
            "regime": regime, "confidence": mult, "adx": adx, "bb_width": bbw,
            "bbw_ratio": bbw_ratio, "rsi": rsi, "stoch_k": k, "stoch_d": d,
            "macd_hist": hist, "atr": atr, "atr_pct": 100.0 * atr / c, "ema_distance_atr": ext,
            "ema_slope": slope, "supertrend": st_line, "blocked": reasons,
        }
        score = 100.0 * abs(cons) * mult
        direction = "bullish" if side > 0 else "bearish"
        if blocks:
            kind = "FUTURES_LONG_BLOCKED" if side > 0 else "FUTURES_SHORT_BLOCKED"
            return self.make_signal(meta, t, signal_type=kind, direction=direction, score=score,
                                    price=c, features=features)
        dist1 = p.tp1_atr * atr
        slope *= side
        eta = min(p.max_eta_bars, math.ceil(dist1 / slope)) if slope > 0 else None
        plan = TradePlan(entry=c, stop=c - side * p.stop_atr * atr, tp1=c + side * dist1,
                         tp2=c + side * p.tp2_atr * atr, eta_bars=eta)
        kind = "FUTURES_LONG" if side > 0 else "FUTURES_SHORT"
        return self.make_signal(meta, t, signal_type=kind, direction=direction, score=score, price=c,
                                features=features, trade_plan=plan)

    def _batch_signals(self, bars: BarArrays, meta: SeriesMeta, at: np.ndarray, vals: np.ndarray
                       ) -> list[Signal]:
        """:meth:`_signal` for every hit, column-wise: regime, ratios, score and
        trade-plan levels on whole columns (the same float operations in the same
        order), then one row of floats, one dict and one record per hit."""
        if not len(at):
            return []
        p = self.params
        make = self.signal_maker(meta)
        (side, blocks, cons, _v_ema, _v_macd, _v_rsi, _v_st, _v_obv, _v_sup, adx, bbw, bbw_mean, _rsi, _k, _d,
         _hist, atr, _ext, ef, ef_prev, _st_line) = vals.T
        c = bars.close[at]
        with np.errstate(divide="ignore", invalid="ignore"):
            bbw_ratio = np.where(bbw_mean > 0, bbw / bbw_mean, 0.0)
        regime = np.where(bbw_ratio >= p.hv_ratio, 0, np.where(adx >= p.adx_trend, 1, 2))
        mult = np.array([p.conf_high_vol, p.conf_trending, p.conf_ranging])[regime]
        short = (side < 0).astype(np.int64)
        blocked = blocks != 0
        slope = ef - ef_prev
        # trade plans of the unblocked hits (blocked ones get none)
        dist1 = p.tp1_atr * atr
        sslope = slope * side
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = np.minimum(float(p.max_eta_bars), np.ceil(dist1 / sslope))
        plans = [None if b else TradePlan(entry=e, stop=st, tp1=t1, tp2=t2, eta_bars=int(n) if s > 0 else None)
                 for b, e, st, t1, t2, n, s in zip(
                     blocked.tolist(), c.tolist(), (c - side * p.stop_atr * atr).tolist(),
                     (c + side * dist1).tolist(), (c + side * p.tp2_atr * atr).tolist(), eta.tolist(),
                     sslope.tolist(), strict=True)]
        # one row of floats per hit: the scratch values a signal shows (consensus to
        # ema_distance_atr, supertrend), then the derived ones
        rows = np.column_stack((vals[:, 2:18], vals[:, 20], c, 100.0 * np.abs(cons) * mult, mult, bbw_ratio,
                                100.0 * atr / c, slope)).tolist()
        reasons = _REASONS
        out: list[Signal] = []
        append = out.append
        for t, kind, direction, regime_name, bl, plan, row in zip(
                bars.open_time[at].tolist(), _TYPES[2 * short + blocked].tolist(), _DIRECTIONS[short].tolist(),
                _REGIMES[regime].tolist(), blocks.astype(np.int64).tolist(), plans, rows, strict=True):
            cs, ve, vm, vr, vs, vo, vsu, ax, bw, _, r, kk, dd, hs, a, x, line, price, score, m, br, ap, sl = row
            append(make(t, kind, direction, score, price, {
                "consensus": cs, "votes": {"ema": ve, "macd": vm, "rsi": vr, "stochrsi": vs, "obv": vo,
                                           "supertrend": vsu},
                "regime": regime_name, "confidence": m, "adx": ax, "bb_width": bw, "bbw_ratio": br, "rsi": r,
                "stoch_k": kk, "stoch_d": dd, "macd_hist": hs, "atr": a, "atr_pct": ap, "ema_distance_atr": x,
                "ema_slope": sl, "supertrend": line, "blocked": list(reasons[bl])}, plan))
        return out
