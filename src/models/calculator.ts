import type { InputMissing, ModelContext, PatientRecord, Prediction } from './model.js';

/** What one calculator concluded for one record. */
export interface CalculatorResult {
  /** Present only when every required input was available and in range. */
  prediction?: Prediction;
  /** For calculators that make several predictions (outcomes × horizons); each has a unique `calculator` id. */
  predictions?: Prediction[];
  /**
   * Inputs that were absent, stale or out of range. Usually empty when a prediction was made; a points score
   * that counts an unassessable item as 0 (e.g. HAS-BLED labile INR) lists it here next to its prediction.
   */
  missing: InputMissing[];
  /** Why the calculator does not apply to this patient (e.g. prior clinical ASCVD for a primary-prevention score). */
  exclusion?: string;
  /** `Type/id` references of every resource the prediction used. */
  basis: string[];
}

/**
 * One published risk equation or score. Each lives in its own file under `calculators/` and is registered
 * in `calculators/index.ts`; the embedded model runs them in turn.
 */
export interface Calculator {
  /** Stable id, e.g. `pce-2013`; also `Prediction.calculator`. */
  readonly id: string;
  /** Human-readable name, e.g. "2013 ACC/AHA Pooled Cohort Equations". */
  readonly title: string;
  /** Pure with respect to the record: no I/O, same result for the same record and as-of. */
  compute(record: PatientRecord, ctx: ModelContext): CalculatorResult;
}
