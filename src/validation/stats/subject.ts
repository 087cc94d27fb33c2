/**
 * One assessed patient as the statistics see it: the predicted risk and what happened within the
 * horizon. Times are years from the as-of date.
 */
export interface Subject {
  /** Predicted probability of the outcome by the horizon, 0–1. */
  risk: number;
  /** Years to the outcome, or to the end of follow-up (censoring), at most the horizon. */
  time: number;
  /** True when the outcome happened at `time` (≤ horizon). */
  event: boolean;
  /** The model's own risk category (e.g. a guideline band), for calibration by category. */
  category?: string;
}

/** Follow-up shorter than the horizon without the outcome: the outcome status at the horizon is unknown. */
export function censoredBefore(s: Subject, horizon: number): boolean {
  return !s.event && s.time < horizon;
}
