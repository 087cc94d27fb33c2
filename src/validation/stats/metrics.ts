import { brierScore } from './brier.js';
import { calibrationInTheLarge, calibrationSlope, observedRisk } from './calibration.js';
import { concordance } from './concordance.js';
import { ipcwOutcomes } from './ipcw.js';
import type { Subject } from './subject.js';

/** The point estimates of one validation (see each function for its method). */
export interface PointMetrics {
  n: number;
  /** Outcomes seen within the horizon (a count, not an estimate). */
  events: number;
  /** Subjects whose follow-up ended before the horizon without the outcome. */
  censored: number;
  /** Mean predicted risk. */
  expectedRisk: number;
  /** Kaplan–Meier cumulative incidence by the horizon. */
  observedRisk: number;
  oe?: number;
  citl?: number;
  slope?: number;
  cUno?: number;
  cHarrell?: number;
  brier?: number;
}

/** The metrics that get bootstrap intervals. */
export const INTERVAL_METRICS = ['oe', 'citl', 'slope', 'cUno', 'cHarrell', 'brier', 'observedRisk'] as const;
export type IntervalMetric = (typeof INTERVAL_METRICS)[number];

/** Every point estimate for one set of subjects at one horizon (years). */
export function pointMetrics(subjects: readonly Subject[], horizon: number): PointMetrics {
  const n = subjects.length;
  const expectedRisk = n ? subjects.reduce((a, s) => a + s.risk, 0) / n : 0;
  const observed = n ? observedRisk(subjects, horizon).risk : 0;
  const weighted = ipcwOutcomes(subjects, horizon);
  return {
    n,
    events: subjects.filter((s) => s.event).length,
    censored: subjects.filter((s) => !s.event && s.time < horizon).length,
    expectedRisk,
    observedRisk: observed,
    oe: expectedRisk > 0 && n ? observed / expectedRisk : undefined,
    citl: calibrationInTheLarge(weighted),
    slope: calibrationSlope(weighted)?.slope,
    cUno: concordance(subjects, horizon, 'uno'),
    cHarrell: concordance(subjects, horizon, 'harrell'),
    brier: brierScore(subjects, horizon),
  };
}
