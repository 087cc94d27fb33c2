/**
 * How BullMQ notices a worker that died mid-job (SIGKILL, OOM, lost host): the job's lock expires
 * after `lockDuration` unless its worker renews it; any worker's stalled check (every
 * `stalledInterval`) moves such a job back to waiting, up to `maxStalledCount` times, then fails it.
 */
export interface StallSettings {
  /** ms a job lock lives without renewal (renewed every half of it while the worker is alive). */
  lockDuration: number;
  /** ms between stalled-job checks. */
  stalledInterval: number;
  /** Times one job may be recovered from a crashed worker before it is failed as poison. */
  maxStalledCount: number;
}

/** Production defaults: a crashed worker's jobs run again within about 30-60 s. */
export const DEFAULT_STALL_SETTINGS: StallSettings = {
  lockDuration: 30_000,
  stalledInterval: 30_000,
  maxStalledCount: 2,
};
