import type { WeightedOutcome } from './ipcw.js';
import { kaplanMeier } from './kaplan-meier.js';
import type { Subject } from './subject.js';

/** Risks are clipped to [1e-6, 1 − 1e-6] before taking logits (a risk of exactly 0 or 1 has no logit). */
const EPS = 1e-6;
const MAX_ITERATIONS = 50;
const TOLERANCE = 1e-10;

export const logit = (p: number): number => {
  const q = Math.min(1 - EPS, Math.max(EPS, p));
  return Math.log(q / (1 - q));
};
const expit = (x: number): number => 1 / (1 + Math.exp(-x));

/** Kaplan–Meier cumulative incidence of the outcome by the horizon (1 − S(horizon)), with its Greenwood SE. */
export function observedRisk(subjects: readonly Subject[], horizon: number): { risk: number; se: number } {
  const km = kaplanMeier(subjects);
  return { risk: 1 - km.at(horizon), se: km.standardError(horizon) };
}

/** Observed (Kaplan–Meier) over expected (mean predicted) risk; undefined when nothing is expected. */
export function observedExpected(subjects: readonly Subject[], horizon: number): number | undefined {
  if (!subjects.length) return undefined;
  const expected = subjects.reduce((a, s) => a + s.risk, 0) / subjects.length;
  return expected > 0 ? observedRisk(subjects, horizon).risk / expected : undefined;
}

/** True when both outcomes carry weight: otherwise no logistic fit exists (complete separation). */
function fittable(data: readonly WeightedOutcome[]): boolean {
  const w = (y: 0 | 1) => data.reduce((a, d) => a + (d.outcome === y ? d.weight : 0), 0);
  return w(1) > 0 && w(0) > 0;
}

/**
 * Calibration-in-the-large: the intercept `a` of logit P(y) = a + offset(logit p), fitted by weighted
 * maximum likelihood (Newton–Raphson). 0 is perfect; > 0 means the model under-predicts on average.
 */
export function calibrationInTheLarge(data: readonly WeightedOutcome[]): number | undefined {
  if (!fittable(data)) return undefined;
  let a = 0;
  for (let i = 0; i < MAX_ITERATIONS; i++) {
    let grad = 0;
    let info = 0;
    for (const d of data) {
      const mu = expit(a + logit(d.risk));
      grad += d.weight * (d.outcome - mu);
      info += d.weight * mu * (1 - mu);
    }
    const step = grad / info;
    a += step;
    if (Math.abs(step) < TOLERANCE) break;
  }
  return a;
}

/**
 * Logistic recalibration (Cox 1958): logit P(y) = a + b·logit p, weighted maximum likelihood by
 * Newton–Raphson. The slope b is 1 for a perfectly calibrated model; < 1 means predictions too extreme.
 */
export function calibrationSlope(data: readonly WeightedOutcome[]): { intercept: number; slope: number } | undefined {
  if (!fittable(data)) return undefined;
  let a = 0;
  let b = 1;
  for (let i = 0; i < MAX_ITERATIONS; i++) {
    let ga = 0;
    let gb = 0;
    let haa = 0;
    let hab = 0;
    let hbb = 0;
    for (const d of data) {
      const x = logit(d.risk);
      const mu = expit(a + b * x);
      const v = d.weight * mu * (1 - mu);
      ga += d.weight * (d.outcome - mu);
      gb += d.weight * (d.outcome - mu) * x;
      haa += v;
      hab += v * x;
      hbb += v * x * x;
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 0)) return undefined; // every weighted risk equal: no slope to estimate
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    a += da;
    b += db;
    if (!Number.isFinite(a) || !Number.isFinite(b)) return undefined;
    if (Math.abs(da) + Math.abs(db) < TOLERANCE) break;
  }
  return { intercept: a, slope: b };
}
