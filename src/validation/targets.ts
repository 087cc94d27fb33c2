import { CALCULATOR_IDS } from '../models/calculators/index.js';
import { type OutcomeDefinition, outcomeFor, VALIDATABLE } from './outcomes/outcome-definitions.js';

/** One prediction to validate: which calculator makes it, its horizon, and the outcome it predicts. */
export interface ValidationTarget {
  /** Prediction id, e.g. `pce-2013`, `prevent-10y-cvd`. */
  prediction: string;
  /** The calculator that makes it (its `missing`/`exclusions` are reported under this id). */
  calculator: string;
  horizonYears: number;
  outcome: OutcomeDefinition;
}

/** Horizons of predictions whose id does not carry one (`...-10y-...` does). */
const FIXED_HORIZON: Record<string, number> = {
  'pce-2013': 10,
  'charlson-age-adjusted': 10,
  'cha2ds2-vasc': 1,
  'has-bled': 1,
};

/** Thrown for a prediction id validation cannot handle; the message says what can. */
export class UnknownTargetError extends Error {}

/**
 * The validation target for a prediction id.
 * @param horizonYears - requested horizon; must equal the prediction's own (a 10-year risk is not a 5-year one)
 */
export function targetFor(prediction: string, horizonYears?: number): ValidationTarget {
  const outcome = outcomeFor(prediction);
  const calculator = CALCULATOR_IDS.find((c) => prediction === c || prediction.startsWith(`${c}-`));
  if (!outcome || !calculator)
    throw new UnknownTargetError(`no outcome definition for '${prediction}'; validation covers ${VALIDATABLE}`);
  const own = FIXED_HORIZON[prediction] ?? Number(/-(\d+)y(?:-|$)/.exec(prediction)?.[1]);
  if (horizonYears !== undefined && horizonYears !== own)
    throw new UnknownTargetError(
      `'${prediction}' predicts a ${own}-year risk; comparing it with outcomes over ${horizonYears} years would ` +
        `miscalibrate it by construction: ask for a horizon of ${own}y (or leave the horizon out)`,
    );
  return { prediction, calculator, horizonYears: own, outcome };
}
