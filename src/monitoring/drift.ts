import type { Logger } from 'pino';
import type { RedisClient } from '../jobs/redis-connection.js';
import type { ValidationReport } from '../validation/report.js';
import type { ValidationReportStore } from '../validation/report-store.js';
import { monitorKeys } from './monitor-keys.js';
import { psi } from './psi.js';

/** Drift settings (DRIFT_* in the configuration). */
export interface DriftSettings {
  /** PSI above this raises the alert (default 0.25, the conventional "significant shift"). */
  threshold: number;
  /** Values newer than this many days are compared with the baseline. */
  windowDays: number;
  /** Fewer values than this in the window: no PSI (too noisy to alert on). */
  minSamples: number;
}

/** One series' drift against the validation baseline. */
export interface DriftFinding {
  model: string;
  version: string;
  prediction: string;
  /** `risk` (the model's output) or `input:NAME`. */
  series: string;
  psi: number;
  n: number;
  alert: boolean;
  /** The validation report the baseline came from. */
  baselineReport: string;
}

/** Recent values of one series within the window (the list holds `epochMs:value`, newest first). */
async function recentValues(redis: RedisClient, key: string, since: number): Promise<number[]> {
  const raw = await redis.lrange(key, 0, -1);
  const out: number[] = [];
  for (const item of raw) {
    const [t, v] = item.split(':');
    if (Number(t) < since) break;
    out.push(Number(v));
  }
  return out;
}

/**
 * Population stability of each monitored prediction against its validation baseline (the newest
 * stored validation report of the same model version and prediction): the predicted risk and every
 * numeric input the report has a baseline for.
 */
export class DriftMonitor {
  private readonly alerting = new Set<string>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly reports: ValidationReportStore,
    readonly settings: DriftSettings,
    private readonly logger?: Pick<Logger, 'warn' | 'info'>,
  ) {}

  /** PSI per series for the given model versions (those with a baseline). */
  async findings(models: readonly { id: string; version: string }[], now = Date.now()): Promise<DriftFinding[]> {
    const out: DriftFinding[] = [];
    for (const m of models) {
      const predictions = [
        ...new Set((await this.reports.list({ modelId: m.id, modelVersion: m.version })).map((r) => r.prediction)),
      ];
      for (const prediction of predictions) {
        const report = await this.reports.latest(m.id, m.version, prediction);
        if (report) out.push(...(await this.compare(report, now)));
      }
    }
    return out;
  }

  private async compare(report: ValidationReport, now: number): Promise<DriftFinding[]> {
    const since = now - this.settings.windowDays * 24 * 3600 * 1000;
    const { id: model, version, prediction } = report.model;
    const keys = monitorKeys(this.prefix);
    const series: [string, ValidationReport['baseline']['risk']][] = [
      ['risk', report.baseline.risk],
      ...Object.entries(report.baseline.inputs).map(([name, b]) => [`input:${name}`, b] as [string, typeof b]),
    ];
    const out: DriftFinding[] = [];
    for (const [name, baseline] of series) {
      const values = await recentValues(this.redis, keys.values(`${model}@${version}`, prediction, name), since);
      const value = values.length >= this.settings.minSamples ? psi(baseline, values) : undefined;
      if (value === undefined) continue;
      out.push({
        model,
        version,
        prediction,
        series: name,
        psi: value,
        n: values.length,
        alert: value > this.settings.threshold,
        baselineReport: report.id,
      });
    }
    return out;
  }

  /** Computes the findings and logs an alert when a series crosses the threshold (once per crossing). */
  async check(models: readonly { id: string; version: string }[]): Promise<DriftFinding[]> {
    const found = await this.findings(models);
    for (const f of found) {
      const key = `${f.model}@${f.version}|${f.prediction}|${f.series}`;
      const what = f.series === 'risk' ? 'its predicted risk' : `input '${f.series.slice(6)}'`;
      if (f.alert && !this.alerting.has(key)) {
        this.alerting.add(key);
        this.logger?.warn(
          {
            alert: 'drift',
            model: f.model,
            version: f.version,
            prediction: f.prediction,
            series: f.series,
            psi: Number(f.psi.toFixed(3)),
            threshold: this.settings.threshold,
            n: f.n,
            baselineReport: f.baselineReport,
          },
          `drift alert: model ${f.model} ${f.version} (${f.prediction}) ${what} has PSI ${f.psi.toFixed(3)} > ${this.settings.threshold} against validation report ${f.baselineReport} (${f.n} values in the last ${this.settings.windowDays} days)`,
        );
      } else if (!f.alert && this.alerting.delete(key)) {
        this.logger?.info(
          {
            alert: 'drift-cleared',
            model: f.model,
            version: f.version,
            prediction: f.prediction,
            series: f.series,
            psi: Number(f.psi.toFixed(3)),
          },
          `drift cleared: model ${f.model} ${f.version} (${f.prediction}) ${what}`,
        );
      }
    }
    return found;
  }
}
