/** Formats a 0–1 probability as a percentage, e.g. `formatPercent(0.0538) === '5.4 %'`. */
export function formatPercent(probability: number, digits = 1): string {
  return `${(probability * 100).toFixed(digits)} %`;
}
