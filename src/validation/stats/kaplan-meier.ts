/** One step of a Kaplan–Meier curve: survival just after `time`, and Greenwood's sum up to it. */
interface Step {
  time: number;
  survival: number;
  /** Σ d / (n (n − d)) over the event times up to `time` (Greenwood 1926). */
  greenwood: number;
}

/** A right-continuous Kaplan–Meier survival curve. */
export class SurvivalCurve {
  constructor(private readonly steps: readonly Step[]) {}

  /** S(t): survival including the events at `t`. */
  at(t: number): number {
    return this.stepAt(t, true)?.survival ?? 1;
  }

  /** S(t−): survival just before `t` (events at `t` not yet counted). */
  before(t: number): number {
    return this.stepAt(t, false)?.survival ?? 1;
  }

  /** Greenwood standard error of S(t). */
  standardError(t: number): number {
    const s = this.stepAt(t, true);
    return s ? s.survival * Math.sqrt(s.greenwood) : 0;
  }

  /** The last step at or before `t` (`inclusive`) or strictly before it. */
  private stepAt(t: number, inclusive: boolean): Step | undefined {
    let lo = 0;
    let hi = this.steps.length - 1;
    let found: Step | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const st = this.steps[mid];
      if (st.time < t || (inclusive && st.time === t)) {
        found = st;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}

/**
 * Kaplan–Meier estimate (Kaplan & Meier 1958) of P(T > t) from times and event flags; at tied times
 * events are counted before censorings, the usual convention.
 * @param items - `event` true for the event of interest, false for a censoring at `time`
 */
export function kaplanMeier(items: readonly { time: number; event: boolean }[]): SurvivalCurve {
  const sorted = [...items].sort((a, b) => a.time - b.time);
  const steps: Step[] = [];
  let atRisk = sorted.length;
  let survival = 1;
  let greenwood = 0;
  for (let i = 0; i < sorted.length; ) {
    const time = sorted[i].time;
    let events = 0;
    let leaving = 0;
    for (; i < sorted.length && sorted[i].time === time; i++, leaving++) if (sorted[i].event) events++;
    if (events > 0) {
      survival *= 1 - events / atRisk;
      greenwood += atRisk > events ? events / (atRisk * (atRisk - events)) : Number.POSITIVE_INFINITY;
      steps.push({ time, survival, greenwood });
    }
    atRisk -= leaving;
  }
  return new SurvivalCurve(steps);
}
