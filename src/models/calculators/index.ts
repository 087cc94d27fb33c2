import type { Calculator } from '../calculator.js';
import { createCha2ds2VascCalculator } from './cha2ds2-vasc.js';
import { createCharlsonCalculator } from './charlson.js';
import { createCkdEpiCalculator } from './ckd-epi-2021.js';
import { createHasBledCalculator } from './has-bled.js';
import { createKfreCalculator } from './kfre.js';
import { createNews2Calculator } from './news2.js';
import { type CalculatorParams, DEFAULT_PARAMS } from './params.js';
import { createPceCalculator } from './pooled-cohort-equations.js';
import { createPreventCalculator } from './prevent.js';
import { createQsofaCalculator } from './qsofa.js';

/** Calculator factories in the order they run and are reported. Add new ones here. */
const FACTORIES: readonly ((params: CalculatorParams) => Calculator)[] = [
  createPceCalculator,
  createPreventCalculator,
  createCkdEpiCalculator,
  createKfreCalculator,
  createCha2ds2VascCalculator,
  createHasBledCalculator,
  createNews2Calculator,
  createQsofaCalculator,
  createCharlsonCalculator,
];

/** Every calculator the embedded model knows, with default parameters, in run order. */
export const CALCULATORS: readonly Calculator[] = FACTORIES.map((create) => create(DEFAULT_PARAMS));

/** Ids of every calculator, in run order. */
export const CALCULATOR_IDS: readonly string[] = CALCULATORS.map((c) => c.id);

/**
 * The calculators with the given ids (all when `ids` is undefined), in registry order, built with `params`.
 * @throws Error naming the unknown ids and the known ones, so a config typo fails at start-up.
 */
export function selectCalculators(ids?: readonly string[], params: CalculatorParams = DEFAULT_PARAMS): Calculator[] {
  const unknown = (ids ?? []).filter((id) => !CALCULATOR_IDS.includes(id));
  if (unknown.length > 0) {
    throw new Error(`Unknown calculator id(s): ${unknown.join(', ')}; known: ${CALCULATOR_IDS.join(', ')}`);
  }
  const all = params === DEFAULT_PARAMS ? CALCULATORS : FACTORIES.map((create) => create(params));
  return all.filter((c) => !ids || ids.includes(c.id));
}
