import { ipcwOutcomes } from './ipcw.js';
import type { Subject } from './subject.js';

/**
 * Brier score at the horizon with inverse probability of censoring weights (Graf et al., Stat Med
 * 1999;18:2529–45): (1/n) Σ w_i (y_i − p_i)², where subjects censored before the horizon weigh 0 but
 * count in n. Without censoring it is the plain mean squared error of the predicted probabilities.
 */
export function brierScore(subjects: readonly Subject[], horizon: number): number | undefined {
  if (!subjects.length) return undefined;
  const data = ipcwOutcomes(subjects, horizon);
  return data.reduce((a, d) => a + d.weight * (d.outcome - d.risk) ** 2, 0) / subjects.length;
}
