/**
 * Population stability index (PSI) between a baseline distribution and a current one over the same
 * bins: Σ (a − e) · ln(a / e), e and a the baseline and current shares (Siddiqi, Credit Risk
 * Scorecards, 2006). Conventional reading: < 0.1 no shift, 0.1–0.25 moderate, > 0.25 significant.
 */

/** A distribution summary a later sample can be compared with: bin edges and the baseline's shares. */
export interface BinnedBaseline {
  /** Inner edges, ascending; bin i holds values ≤ edges[i] (and > edges[i − 1]), the last bin the rest. */
  edges: number[];
  /** Share of baseline values per bin (edges.length + 1 bins), summing to 1. */
  proportions: number[];
  /** Baseline values it was built from. */
  n: number;
}

/** An empty bin's share is floored at this, so ln(a / e) stays finite (a common PSI convention). */
const FLOOR = 1e-4;

/** The bin of `value` for `edges` (see BinnedBaseline). */
export function binOf(edges: readonly number[], value: number): number {
  let i = 0;
  while (i < edges.length && value > edges[i]) i++;
  return i;
}

/** Shares of `values` per bin. */
export function shares(edges: readonly number[], values: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (const v of values) counts[binOf(edges, v)]++;
  return counts.map((c) => (values.length ? c / values.length : 0));
}

/**
 * Quantile bins (deciles by default) of a baseline sample. Edges are observed values (no interpolation),
 * so a discrete input keeps its own values: ties collapse edges, and a yes/no input gets one edge.
 */
export function baselineOf(values: readonly number[], bins = 10): BinnedBaseline {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
  const edges = sorted.length
    ? [...new Set(Array.from({ length: bins - 1 }, (_, i) => at((i + 1) / bins)))].filter(
        (e) => e < sorted[sorted.length - 1],
      )
    : [];
  return { edges, proportions: shares(edges, sorted), n: sorted.length };
}

/** PSI of `values` against the baseline; undefined without values. */
export function psi(baseline: BinnedBaseline, values: readonly number[]): number | undefined {
  if (!values.length) return undefined;
  const actual = shares(baseline.edges, values);
  return baseline.proportions.reduce((sum, e0, i) => {
    const e = Math.max(FLOOR, e0);
    const a = Math.max(FLOOR, actual[i]);
    return sum + (a - e) * Math.log(a / e);
  }, 0);
}
