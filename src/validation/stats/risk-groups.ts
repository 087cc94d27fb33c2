import { observedRisk } from './calibration.js';
import type { Subject } from './subject.js';

/** Predicted against observed risk in one group of subjects (a calibration plot point). */
export interface RiskGroup {
  label: string;
  n: number;
  events: number;
  /** Mean predicted risk. */
  predicted: number;
  /** Kaplan–Meier cumulative incidence by the horizon, with a 95 % Greenwood interval clipped to [0, 1]. */
  observed: number;
  observedLo: number;
  observedHi: number;
}

function summarise(label: string, subjects: readonly Subject[], horizon: number): RiskGroup {
  const { risk, se } = observedRisk(subjects, horizon);
  return {
    label,
    n: subjects.length,
    events: subjects.filter((s) => s.event).length,
    predicted: subjects.reduce((a, s) => a + s.risk, 0) / subjects.length,
    observed: risk,
    observedLo: Math.max(0, risk - 1.96 * se),
    observedHi: Math.min(1, risk + 1.96 * se),
  };
}

/** Tenths of the subjects by predicted risk (sizes differ by at most one); fewer groups when n < 10. */
export function byDecile(subjects: readonly Subject[], horizon: number): RiskGroup[] {
  const sorted = [...subjects].sort((a, b) => a.risk - b.risk);
  const groups = Math.min(10, sorted.length);
  const out: RiskGroup[] = [];
  for (let g = 0; g < groups; g++) {
    const part = sorted.slice(Math.floor((g * sorted.length) / groups), Math.floor(((g + 1) * sorted.length) / groups));
    out.push(summarise(`decile ${g + 1}`, part, horizon));
  }
  return out;
}

/** One group per risk category the model reported, ordered by mean predicted risk. */
export function byCategory(subjects: readonly Subject[], horizon: number): RiskGroup[] {
  const groups = new Map<string, Subject[]>();
  for (const s of subjects) {
    const key = s.category ?? '(no category)';
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups]
    .map(([label, members]) => summarise(label, members, horizon))
    .sort((a, b) => a.predicted - b.predicted);
}
