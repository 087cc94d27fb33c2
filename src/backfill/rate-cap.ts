/**
 * What caps a backfill's pace, as the operator can change it. Two limits apply: the backfill's own
 * enqueue rate (`--rate`, default 10/s) and the workers' per-EHR token bucket (EHR_RATE_LIMIT
 * assessments per second per source, default 20). With the defaults a backfill runs at about 10
 * patients/s whatever the EHR could take (issue 17), so the CLI says so instead of leaving the
 * operator to guess.
 */
export interface RateCap {
  /** Patients per second at most, or undefined when neither limit applies. */
  perSecond?: number;
  /** One sentence for the operator: what caps it and how to lift it. */
  message: string;
}

/**
 * @param enqueueRate - `--rate` (patients/s; 0 = unpaced)
 * @param ehrRateLimit - EHR_RATE_LIMIT as this command sees it (assessments/s per source; 0 = unlimited);
 *   the workers apply their own copy of the setting
 */
export function backfillRateCap(enqueueRate: number, ehrRateLimit: number): RateCap {
  const caps = [
    ...(enqueueRate > 0 ? [{ rate: enqueueRate, by: `--rate ${enqueueRate}` }] : []),
    ...(ehrRateLimit > 0
      ? [{ rate: ehrRateLimit, by: `EHR_RATE_LIMIT=${ehrRateLimit} (per source, in the workers)` }]
      : []),
  ].sort((a, b) => a.rate - b.rate);
  if (!caps.length)
    return { message: 'pace: not capped (--rate 0, EHR_RATE_LIMIT=0): as fast as the workers and the EHR go' };
  const [tightest, other] = caps;
  const also = other ? `; then ${other.by}` : '';
  return {
    perSecond: tightest.rate,
    message:
      `pace: at most ${tightest.rate} patients/s, capped by ${tightest.by}${also}. ` +
      "To go as fast as the EHR allows, raise --rate (0 = unpaced) and the workers' EHR_RATE_LIMIT (0 = unlimited); keep them where the EHR serves live users.",
  };
}
