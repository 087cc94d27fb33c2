import { kaplanMeier, type SurvivalCurve } from './kaplan-meier.js';
import { censoredBefore, type Subject } from './subject.js';

/** A subject's outcome at the horizon as a binary outcome, with its inverse-probability-of-censoring weight. */
export interface WeightedOutcome {
  risk: number;
  /** 1 when the outcome happened by the horizon. */
  outcome: 0 | 1;
  /** 0 for follow-up that ended before the horizon without the outcome (status unknown). */
  weight: number;
}

/**
 * Inverse probability of censoring weighting at a fixed horizon (Graf et al. 1999; Uno et al. 2011):
 * G is the Kaplan–Meier curve of the censoring times; an event at T is weighted 1/G(T−), a subject
 * followed to the horizon without the event 1/G(horizon), and a subject censored earlier 0. Without
 * censoring every weight is 1, so every IPCW statistic reduces to its plain binary form.
 */
export function censoringCurve(subjects: readonly Subject[], horizon: number): SurvivalCurve {
  return kaplanMeier(subjects.map((s) => ({ time: s.time, event: censoredBefore(s, horizon) })));
}

export function ipcwOutcomes(subjects: readonly Subject[], horizon: number): WeightedOutcome[] {
  const g = censoringCurve(subjects, horizon);
  const inverse = (p: number) => (p > 0 ? 1 / p : 0);
  return subjects.map((s) => {
    if (s.event) return { risk: s.risk, outcome: 1, weight: inverse(g.before(s.time)) };
    if (s.time < horizon) return { risk: s.risk, outcome: 0, weight: 0 };
    return { risk: s.risk, outcome: 0, weight: inverse(g.at(horizon)) };
  });
}
