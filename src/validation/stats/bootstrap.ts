import { type Rng, seededRng } from './rng.js';

/** A percentile interval, and how many resamples gave the statistic a value. */
export interface Interval {
  lo: number;
  hi: number;
  /** Resamples in which the statistic existed (e.g. no events: no C-statistic). */
  resamples: number;
}

export interface BootstrapOptions {
  /** Resamples (default 200). */
  reps?: number;
  /** Seed of the resampling generator: same data and seed, same interval. */
  seed?: number;
  /** Coverage (default 0.95). */
  level?: number;
}

/** Resamples with replacement, the same size as the sample. */
function resample<T>(items: readonly T[], rng: Rng): T[] {
  const out = new Array<T>(items.length);
  for (let i = 0; i < items.length; i++) out[i] = items[Math.floor(rng() * items.length)];
  return out;
}

/** The q-quantile of sorted values, linear between order statistics (R type 7). */
export function quantile(sorted: readonly number[], q: number): number {
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  return sorted[lo] + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)] ?? sorted[lo]) - sorted[lo]);
}

/**
 * Non-parametric percentile bootstrap (Efron & Tibshirani 1993): recomputes `statistics` on `reps`
 * resamples of the subjects (everything, censoring weights included, is re-estimated in each) and
 * takes the (1 − level)/2 and (1 + level)/2 quantiles of each statistic.
 * @returns an interval per statistic; absent when fewer than 10 resamples gave it a value
 */
export function bootstrapIntervals<T, K extends string>(
  items: readonly T[],
  statistics: (sample: readonly T[]) => Partial<Record<K, number | undefined>>,
  keys: readonly K[],
  opts: BootstrapOptions = {},
): Partial<Record<K, Interval>> {
  const rng = seededRng(opts.seed ?? 1);
  const reps = opts.reps ?? 200;
  const alpha = (1 - (opts.level ?? 0.95)) / 2;
  const draws = new Map<K, number[]>(keys.map((k) => [k, []]));
  if (!items.length) return {};
  for (let r = 0; r < reps; r++) {
    const values = statistics(resample(items, rng));
    for (const k of keys) {
      const v = values[k];
      if (v !== undefined && Number.isFinite(v)) draws.get(k)?.push(v);
    }
  }
  const out: Partial<Record<K, Interval>> = {};
  for (const [k, vs] of draws) {
    if (vs.length < 10) continue;
    vs.sort((a, b) => a - b);
    out[k] = { lo: quantile(vs, alpha), hi: quantile(vs, 1 - alpha), resamples: vs.length };
  }
  return out;
}
