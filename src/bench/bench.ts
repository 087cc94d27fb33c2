/** One benchmark of `npm run bench`: measures, prints its own table, returns headline ratios. */
export interface Bench {
  name: string;
  /** What it compares, in one line (e.g. "intake vs a bare fastify route"). */
  title: string;
  run(log: (line: string) => void): Promise<Record<string, number | string>>;
}

/** Median and percentile of a sample (ms or any unit). */
export function percentile(values: number[], p: number): number {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
