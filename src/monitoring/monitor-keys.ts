/** Redis keys of the monitoring data (shared by every worker and read by the API and console). */
export const monitorKeys = (prefix: string) => ({
  /** Hash per UTC day: `model@version|mode` → assessments. */
  day: (day: string) => `${prefix}:monitor:day:${day}`,
  /** Hash per UTC day: `model@version|calculator|input|status` → count. */
  inputs: (day: string) => `${prefix}:monitor:inputs:${day}`,
  /** Capped list of `epochMs:value` of one series (`risk` or `input:NAME`) of one prediction of one model version. */
  values: (modelKey: string, prediction: string, series: string) =>
    `${prefix}:monitor:values:${modelKey}:${prediction}:${series}`,
});

/** Most values kept per series (newest first); older ones fall off. */
export const MAX_VALUES = 5_000;
/** Days the daily hashes are kept. */
export const DAY_RETENTION_S = 400 * 24 * 3600;

export const utcDay = (d: Date) => d.toISOString().slice(0, 10);
