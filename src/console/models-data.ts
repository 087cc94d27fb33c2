import type { RiskAssessment } from '@medplum/fhirtypes';
import { isCurrent } from '../api/cds-cards.js';
import { monitorKeys } from '../monitoring/monitor-keys.js';
import { psi } from '../monitoring/psi.js';
import type { ReportSummary } from '../validation/report-store.js';
import { ShadowStore } from '../writeback/shadow-store.js';
import type { ConsoleDeps } from './console-deps.js';
import type { ModelHistoryEntry } from './model-history.js';
import { lastDays } from './overview-data.js';

export interface DriftSeries {
  prediction: string;
  baselineReport: string;
  days: string[];
  /** series (`risk`, `input:NAME`) → PSI per day (null: too few values that day). */
  psi: Record<string, (number | null)[]>;
}

export interface ShadowComparison {
  patientId: string;
  calculator: string;
  at: string;
  shadow?: number;
  live?: number;
}

export interface ModelView {
  id: string;
  version: string;
  title: string;
  mode: string;
  history: ModelHistoryEntry[];
  reports: ReportSummary[];
  drift: DriftSeries[];
  shadow?: ShadowComparison[];
}

/** Fewest values in one day for that day's PSI point (fewer: the point is left out as noise). */
const MIN_DAILY_VALUES = 20;

/** PSI per day of each series of one prediction against its newest validation baseline. */
async function driftSeries(
  deps: ConsoleDeps,
  id: string,
  version: string,
  prediction: string,
): Promise<DriftSeries | undefined> {
  const report = await deps.reports?.latest(id, version, prediction);
  if (!report) return undefined;
  const days = lastDays(deps.driftWindowDays);
  const keys = monitorKeys(deps.keyPrefix);
  const series: [string, typeof report.baseline.risk][] = [
    ['risk', report.baseline.risk],
    ...Object.entries(report.baseline.inputs).map(([n, b]) => [`input:${n}`, b] as [string, typeof b]),
  ];
  const out: DriftSeries = { prediction, baselineReport: report.id, days, psi: {} };
  for (const [name, baseline] of series) {
    const raw = await deps.redis.lrange(keys.values(`${id}@${version}`, prediction, name), 0, -1);
    const byDay = new Map<string, number[]>();
    for (const item of raw) {
      const [t, v] = item.split(':');
      const day = new Date(Number(t)).toISOString().slice(0, 10);
      byDay.set(day, [...(byDay.get(day) ?? []), Number(v)]);
    }
    out.psi[name] = days.map((d) => {
      const values = byDay.get(d) ?? [];
      return values.length >= MIN_DAILY_VALUES ? (psi(baseline, values) ?? null) : null;
    });
  }
  return out;
}

/** Shadow predictions next to the live (current, written) ones for the same patients. */
async function shadowVsLive(deps: ConsoleDeps, modelId: string): Promise<ShadowComparison[]> {
  const { source, client } = deps.sources.all()[0];
  const store = new ShadowStore(deps.redis, deps.keyPrefix, deps.shadowRetentionDays);
  const records = await store.list({ source: source.name, model: modelId, limit: 20 });
  const out: ShadowComparison[] = [];
  for (const r of records) {
    const live = (
      await client.searchAll<RiskAssessment>(`RiskAssessment?subject=Patient/${r.patientId}&_count=100`)
    ).filter(isCurrent);
    for (const p of r.predictions) {
      const match = live.find((ra) => ra.method?.coding?.[0]?.code === p.calculator);
      out.push({
        patientId: r.patientId,
        calculator: p.calculator,
        at: r.createdAt,
        shadow: p.probability,
        live: match?.prediction?.[0]?.probabilityDecimal,
      });
    }
  }
  return out;
}

/** Each configured model with its mode history, validation reports, drift and (shadow models) shadow vs live. */
export async function modelsData(deps: ConsoleDeps): Promise<ModelView[]> {
  return Promise.all(
    deps.registered.map(async ({ model, mode }) => {
      const reports = (await deps.reports?.list({ modelId: model.id, limit: 100 })) ?? [];
      const predictions = [
        ...new Set(reports.filter((r) => r.modelVersion === model.version).map((r) => r.prediction)),
      ];
      const drift = (await Promise.all(predictions.map((p) => driftSeries(deps, model.id, model.version, p)))).filter(
        (d): d is DriftSeries => !!d,
      );
      const history = await deps.history.history(model.id);
      // The registry's latest act for this version (a promotion or recall), else the configured mode.
      const now = [...history].reverse().find((h) => h.version === model.version)?.mode ?? mode;
      return {
        id: model.id,
        version: model.version,
        title: model.title,
        mode: now,
        history,
        reports,
        drift,
        shadow: now === 'shadow' ? await shadowVsLive(deps, model.id) : undefined,
      };
    }),
  );
}
