import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Database } from '../db/database.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import { scrapeGauge } from '../observability/metrics.js';
import { ValidationReportStore } from '../validation/report-store.js';
import { DriftMonitor } from './drift.js';
import { OutputMonitor } from './output-monitor.js';

export interface Monitoring {
  outputs: OutputMonitor;
  /** Present when DATABASE_URL is set: baselines are stored validation reports. */
  drift?: DriftMonitor;
  close(): void;
}

/**
 * Production monitoring for one process: every process records outputs; workers check drift every
 * DRIFT_CHECK_INTERVAL_MS and log alerts; HTTP processes export PSI and alert gauges at scrape time.
 */
export function startMonitoring(
  cfg: Config,
  deps: { redis: RedisClient; db?: Database; logger: Logger; models: readonly { id: string; version: string }[] },
  roles: { http: boolean; workers: boolean },
): Monitoring {
  const outputs = new OutputMonitor(deps.redis, cfg.QUEUE_PREFIX);
  if (!deps.db) return { outputs, close: () => {} };
  const settings = {
    threshold: cfg.DRIFT_PSI_THRESHOLD,
    windowDays: cfg.DRIFT_WINDOW_DAYS,
    minSamples: cfg.DRIFT_MIN_SAMPLES,
  };
  const drift = new DriftMonitor(
    deps.redis,
    cfg.QUEUE_PREFIX,
    new ValidationReportStore(deps.db),
    settings,
    deps.logger,
  );
  let timer: NodeJS.Timeout | undefined;
  if (roles.workers) {
    const check = () =>
      void drift.check(deps.models).catch((err: Error) => deps.logger.warn({ err: err.message }, 'drift check failed'));
    timer = setInterval(check, cfg.DRIFT_CHECK_INTERVAL_MS);
    timer.unref();
  }
  if (roles.http) {
    const labels = ['model', 'version', 'prediction', 'series'];
    const read = (value: (f: { psi: number; alert: boolean }) => number) => async () =>
      (await drift.findings(deps.models)).map((f) => ({
        labels: { model: f.model, version: f.version, prediction: f.prediction, series: f.series },
        value: value(f),
      }));
    scrapeGauge(
      'fhir_assess_drift_psi',
      'Population stability index of recent outputs/inputs against the validation baseline',
      labels,
      read((f) => f.psi),
    );
    scrapeGauge(
      'fhir_assess_drift_alert',
      '1 when the PSI is above DRIFT_PSI_THRESHOLD',
      labels,
      read((f) => (f.alert ? 1 : 0)),
    );
  }
  return { outputs, drift, close: () => clearInterval(timer) };
}
