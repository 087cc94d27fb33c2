import type { Calculator } from '../calculator.js';
import { pceCalculator } from './pooled-cohort-equations.js';

/** Every calculator the embedded model knows, in the order they run and are reported. Add new ones here. */
export const CALCULATORS: readonly Calculator[] = [pceCalculator];

/**
 * The calculators with the given ids (all when `ids` is undefined), in registry order.
 * @throws Error naming the unknown ids and the known ones, so a config typo fails at start-up.
 */
export function selectCalculators(ids?: readonly string[]): Calculator[] {
  if (!ids) return [...CALCULATORS];
  const unknown = ids.filter((id) => !CALCULATORS.some((c) => c.id === id));
  if (unknown.length > 0) {
    throw new Error(
      `Unknown calculator id(s): ${unknown.join(', ')}; known: ${CALCULATORS.map((c) => c.id).join(', ')}`,
    );
  }
  return CALCULATORS.filter((c) => ids.includes(c.id));
}
