import { censoringCurve } from './ipcw.js';
import type { Subject } from './subject.js';

/**
 * Concordance of predicted risk with time to the outcome, for right-censored data.
 * A pair (i, j) is comparable when i had the outcome first: T_i < T_j, or T_i = T_j with j censored.
 * It is concordant when i's predicted risk is higher; tied risks count one half.
 * - `harrell`: every comparable pair weighs 1 (Harrell et al. 1982). Depends on the censoring pattern.
 * - `uno`: each comparable pair weighs 1/G(T_i−)², G the Kaplan–Meier censoring curve, with follow-up
 *   truncated at the horizon (Uno et al., Stat Med 2011;30:1105–17): consistent for the population
 *   concordance up to the horizon whatever the censoring. Without censoring, and with every event at
 *   one time, both equal the binary C-statistic (the area under the ROC curve).
 * @returns undefined when no pair is comparable (no events, or only events)
 */
export function concordance(
  subjects: readonly Subject[],
  horizon: number,
  method: 'harrell' | 'uno' = 'uno',
): number | undefined {
  const g = method === 'uno' ? censoringCurve(subjects, horizon) : undefined;
  let concordant = 0;
  let comparable = 0;
  for (const i of subjects) {
    if (!i.event) continue;
    const gi = g ? g.before(i.time) : 1;
    if (!(gi > 0)) continue;
    const w = 1 / (gi * gi);
    for (const j of subjects) {
      if (!(i.time < j.time || (i.time === j.time && !j.event))) continue;
      comparable += w;
      if (i.risk > j.risk) concordant += w;
      else if (i.risk === j.risk) concordant += w / 2;
    }
  }
  return comparable > 0 ? concordant / comparable : undefined;
}
