/**
 * Cohen's kappa for two raters over the same items (Cohen 1960): (p_o - p_e) / (1 - p_e), where p_o is
 * the observed agreement and p_e the agreement expected by chance from each rater's marginal
 * frequencies. Undefined (NaN) with no items; 1 when both raters use one and the same category.
 */
export function cohensKappa(pairs: readonly (readonly [string, string])[]): number {
  const n = pairs.length;
  if (n === 0) return Number.NaN;
  const a = new Map<string, number>();
  const b = new Map<string, number>();
  let agree = 0;
  for (const [x, y] of pairs) {
    a.set(x, (a.get(x) ?? 0) + 1);
    b.set(y, (b.get(y) ?? 0) + 1);
    if (x === y) agree++;
  }
  const po = agree / n;
  let pe = 0;
  for (const [category, count] of a) pe += (count / n) * ((b.get(category) ?? 0) / n);
  if (pe === 1) return 1; // both always chose the same single category: perfect, not 0/0
  return (po - pe) / (1 - pe);
}
