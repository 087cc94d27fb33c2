import type { Calculator } from '../calculator.js';
import { createCha2ds2VascCalculator } from './cha2ds2-vasc.js';
import { createCharlsonCalculator } from './charlson.js';
import { createCkdEpiCalculator } from './ckd-epi-2021.js';
import { createHasBledCalculator } from './has-bled.js';
import { createKfreCalculator } from './kfre.js';
import { createNews2Calculator } from './news2.js';
import { type CalculatorParams, DEFAULT_PARAMS } from './params.js';
import { createPceCalculator } from './pooled-cohort-equations.js';
import { createPreventCalculator, PREVENT_CALCULATOR_ID, PREVENT_LEGACY_ID } from './prevent.js';
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

/** Former calculator ids still accepted in configurations and on the command line, with what they now mean. */
const ALIASES: Readonly<Record<string, string>> = { [PREVENT_LEGACY_ID]: PREVENT_CALCULATOR_ID };

/** The current id of a calculator id or former id (e.g. `prevent-base` → `prevent`). */
export function canonicalCalculatorId(id: string): string {
  return ALIASES[id] ?? id;
}

/** True for a calculator id, or a former one that is still accepted. */
export function isCalculatorId(id: string): boolean {
  return CALCULATOR_IDS.includes(canonicalCalculatorId(id));
}

/**
 * The calculators with the given ids (all when `ids` is undefined), in registry order, built with `params`.
 * Former ids (`prevent-base`) select their successor.
 * @throws Error naming the unknown ids and the known ones, so a config typo fails at start-up.
 */
export function selectCalculators(
  requested?: readonly string[],
  params: CalculatorParams = DEFAULT_PARAMS,
): Calculator[] {
  const ids = requested?.map(canonicalCalculatorId);
  const unknown = (requested ?? []).filter((id) => !isCalculatorId(id));
  if (unknown.length > 0) {
    throw new Error(`Unknown calculator id(s): ${unknown.join(', ')}; known: ${CALCULATOR_IDS.join(', ')}`);
  }
  const all = params === DEFAULT_PARAMS ? CALCULATORS : FACTORIES.map((create) => create(params));
  return all.filter((c) => !ids || ids.includes(c.id));
}
