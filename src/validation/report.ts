import { createHash } from 'node:crypto';
import { type BinnedBaseline, baselineOf } from '../monitoring/psi.js';
import type { PatientRow } from './evaluate-patient.js';
import { type BootstrapOptions, bootstrapIntervals, type Interval } from './stats/bootstrap.js';
import { INTERVAL_METRICS, type IntervalMetric, type PointMetrics, pointMetrics } from './stats/metrics.js';
import { byCategory, byDecile, type RiskGroup } from './stats/risk-groups.js';
import type { Subject } from './stats/subject.js';
import type { ValidationTarget } from './targets.js';

/** Version of the report's JSON shape; a promotion that cites a report can rely on it. */
export const REPORT_SCHEMA = 'fhir-assess/validation-report/v1';

/** Fewer events than this: the report says the numbers are small and the intervals wide. */
export const FEW_EVENTS = 10;
/** At least this many events: calibration by decile (≈5 per decile); fewer: by the model's risk categories. */
const DECILE_EVENTS = 50;

export interface MetricsWithIntervals extends PointMetrics {
  intervals: Partial<Record<IntervalMetric, Interval>>;
  /** True when the numbers are too small to read much into (fewer than 10 events). */
  small: boolean;
}

export interface Subgroup {
  label: string;
  metrics: MetricsWithIntervals;
}

/** One validation of one prediction: stable JSON (REPORT_SCHEMA), stored under `id`. */
export interface ValidationReport {
  schema: typeof REPORT_SCHEMA;
  id: string;
  createdAt: string;
  model: { id: string; version: string; title: string; prediction: string };
  asOf: string;
  horizonYears: number;
  /** When given: living patients were taken as followed until this date (records complete), not their last contact. */
  recordsCompleteUntil?: string;
  population: { source: string; selection: string };
  outcome: { id: string; title: string; definition: string };
  methods: Record<string, string>;
  counts: {
    patients: number;
    assessed: number;
    excluded: number;
    exclusions: { reason: string; count: number }[];
    events: number;
    censored: number;
    followUpEnds: Record<string, number>;
  };
  overall: MetricsWithIntervals;
  calibration: { primary: 'decile' | 'category'; why: string; deciles: RiskGroup[]; categories: RiskGroup[] };
  /** Predicted risk histogram, patients with and without the outcome. */
  riskDistribution: { edges: number[]; withEvent: number[]; withoutEvent: number[] };
  subgroups: { sex: Subgroup[]; ageBand: Subgroup[] };
  /** The distributions production monitoring compares with (PSI). */
  baseline: { risk: BinnedBaseline; inputs: Record<string, BinnedBaseline>; missingRates: Record<string, number> };
  warnings: string[];
}

export interface ReportContext {
  target: ValidationTarget;
  model: { id: string; version: string; title: string };
  asOf: Date;
  completeUntil?: Date;
  source: string;
  selection: string;
  bootstrap: Required<Pick<BootstrapOptions, 'reps' | 'seed'>>;
  now?: Date;
}

function withIntervals(subjects: Subject[], horizon: number, boot: ReportContext['bootstrap']): MetricsWithIntervals {
  const point = pointMetrics(subjects, horizon);
  const intervals = bootstrapIntervals(subjects, (s) => pointMetrics(s, horizon), INTERVAL_METRICS, boot);
  return { ...point, intervals, small: point.events < FEW_EVENTS };
}

export function ageBand(age: number | undefined): string {
  if (age === undefined) return 'age unknown';
  if (age < 40) return '<40';
  if (age >= 80) return '80+';
  const lo = Math.floor(age / 10) * 10;
  return `${lo}–${lo + 9}`;
}

function subgroups(
  rows: PatientRow[],
  key: (r: PatientRow) => string,
  horizon: number,
  boot: ReportContext['bootstrap'],
): Subgroup[] {
  const groups = new Map<string, PatientRow[]>();
  for (const r of rows) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  return [...groups]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, members]) => ({ label, metrics: withIntervals(members.map(subjectOf), horizon, boot) }));
}

const subjectOf = (r: PatientRow): Subject => ({
  risk: r.risk as number,
  time: r.time as number,
  event: r.event as boolean,
  category: r.category,
});

function counted<T extends string>(items: T[]): { reason: T; count: number }[] {
  const m = new Map<T, number>();
  for (const x of items) m.set(x, (m.get(x) ?? 0) + 1);
  return [...m].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count);
}

function histogram(rows: PatientRow[]): ValidationReport['riskDistribution'] {
  const max = Math.max(0.05, ...rows.map((r) => r.risk as number));
  const top = Math.min(1, Math.ceil(max * 20) / 20);
  const edges = Array.from({ length: 21 }, (_, i) => (top * i) / 20);
  const bin = (v: number) => Math.min(19, Math.floor((v / top) * 20));
  const withEvent = new Array<number>(20).fill(0);
  const withoutEvent = new Array<number>(20).fill(0);
  for (const r of rows) (r.event ? withEvent : withoutEvent)[bin(r.risk as number)]++;
  return { edges, withEvent, withoutEvent };
}

function baselines(rows: PatientRow[], assessed: PatientRow[]): ValidationReport['baseline'] {
  const names = [...new Set(assessed.flatMap((r) => Object.keys(r.inputs ?? {})))].sort();
  const inputs = Object.fromEntries(
    names.map((n) => [n, baselineOf(assessed.flatMap((r) => (r.inputs?.[n] === undefined ? [] : [r.inputs[n]])))]),
  );
  // Missing rates among the patients the calculator ran for (not those excluded before it ran).
  const ran = rows.filter((r) => r.missing !== undefined);
  const missingNames = [...new Set(ran.flatMap((r) => r.missing ?? []))].sort();
  const missingRates = Object.fromEntries(
    missingNames.map((n) => [n, ran.filter((r) => r.missing?.includes(n)).length / Math.max(1, ran.length)]),
  );
  return { risk: baselineOf(assessed.map((r) => r.risk as number)), inputs, missingRates };
}

function warningsFor(overall: MetricsWithIntervals, assessed: number, subs: Subgroup[]): string[] {
  const w: string[] = [];
  if (overall.events < FEW_EVENTS)
    w.push(
      `Only ${overall.events} outcome event(s) among ${assessed} assessed patients: O/E, C-statistic and slope are very uncertain (see the intervals); do not rely on them.`,
    );
  else if (assessed < 100) w.push(`Only ${assessed} assessed patients: the intervals are wide.`);
  const small = subs.filter((s) => s.metrics.small).map((s) => s.label);
  if (small.length)
    w.push(`Subgroups with fewer than ${FEW_EVENTS} events (numbers shown, but small): ${small.join(', ')}.`);
  if (overall.censored > assessed / 2)
    w.push(
      `${overall.censored} of ${assessed} patients were followed for less than the horizon: the observed risk leans on the Kaplan–Meier and IPCW corrections.`,
    );
  return w;
}

/** Every method the numbers use, stated in the report itself. */
export const METHODS: Record<string, string> = {
  asOfRecord:
    'Each patient’s record as it stood on the as-of date: resources dated after it, and undated ones, are left out; a later death or abatement is removed.',
  censoring:
    'Follow-up ends at the outcome, at the horizon, at a death that is not the outcome (another or an unrecorded cause: censored, the cause-specific approach), or at the last contact (latest date of any resource) when the record stops before the horizon.',
  observed:
    'Observed risk: Kaplan–Meier cumulative incidence by the horizon (1 − S(horizon)); O/E = observed / mean predicted risk.',
  calibration:
    'Calibration-in-the-large: intercept of logit(y) = a + offset(logit p); slope: b of logit(y) = a + b·logit(p); both by weighted maximum likelihood with inverse probability of censoring weights (IPCW, censoring Kaplan–Meier).',
  concordance:
    'C-statistic: Uno’s IPCW concordance truncated at the horizon (Uno et al., Stat Med 2011;30:1105); Harrell’s C also given.',
  brier: 'Brier score at the horizon with IPCW (Graf et al., Stat Med 1999;18:2529).',
  intervals:
    'Percentile bootstrap 95 % intervals (resampling patients; every estimate, censoring weights included, recomputed).',
  groups: `Calibration by decile of predicted risk when there are at least ${DECILE_EVENTS} events, else by the model’s risk categories; both are listed.`,
};

/** The report of one target from its patient rows (pure: the same rows and seed give the same report). */
export function buildReport(rows: PatientRow[], ctx: ReportContext): ValidationReport {
  const horizon = ctx.target.horizonYears;
  const assessed = rows.filter((r) => r.excluded === undefined);
  const subjects = assessed.map(subjectOf);
  const overall = withIntervals(subjects, horizon, ctx.bootstrap);
  const sex = subgroups(assessed, (r) => r.sex ?? 'unknown', horizon, ctx.bootstrap);
  const ageBands = subgroups(assessed, (r) => ageBand(r.age), horizon, ctx.bootstrap);
  const createdAt = (ctx.now ?? new Date()).toISOString();
  const asOf = ctx.asOf.toISOString().slice(0, 10);
  const categories = byCategory(subjects, horizon);
  // Few events: the model's own categories, unless it reports fewer than two (then deciles, said to be thin).
  const primary = overall.events >= DECILE_EVENTS || categories.length < 2 ? 'decile' : 'category';
  const seed = [
    ctx.model.id,
    ctx.model.version,
    ctx.target.prediction,
    asOf,
    horizon,
    ctx.source,
    ctx.selection,
    createdAt,
  ];
  return {
    schema: REPORT_SCHEMA,
    id: `vr-${createdAt.slice(0, 10).replaceAll('-', '')}-${createHash('sha256').update(JSON.stringify(seed)).digest('hex').slice(0, 12)}`,
    createdAt,
    model: { ...ctx.model, prediction: ctx.target.prediction },
    asOf,
    horizonYears: horizon,
    ...(ctx.completeUntil && { recordsCompleteUntil: ctx.completeUntil.toISOString().slice(0, 10) }),
    population: { source: ctx.source, selection: ctx.selection },
    outcome: { id: ctx.target.outcome.id, title: ctx.target.outcome.title, definition: ctx.target.outcome.definition },
    methods: {
      ...METHODS,
      intervals: `${METHODS.intervals} ${ctx.bootstrap.reps} resamples, seed ${ctx.bootstrap.seed}.`,
    },
    counts: {
      patients: rows.length,
      assessed: assessed.length,
      excluded: rows.length - assessed.length,
      exclusions: counted(rows.flatMap((r) => (r.excluded ? [r.excluded] : []))),
      events: overall.events,
      censored: overall.censored,
      followUpEnds: Object.fromEntries(
        counted(assessed.map((r) => r.end ?? 'unknown')).map((c) => [c.reason, c.count]),
      ),
    },
    overall,
    calibration: {
      primary,
      why:
        primary === 'category'
          ? `only ${overall.events} events: by risk category (deciles would hold fewer than 5 events each)`
          : overall.events >= DECILE_EVENTS
            ? `${overall.events} events: deciles of predicted risk`
            : `deciles of predicted risk, thin with ${overall.events} events (the model reports no risk categories)`,
      deciles: byDecile(subjects, horizon),
      categories,
    },
    riskDistribution: histogram(assessed),
    subgroups: { sex, ageBand: ageBands },
    baseline: baselines(rows, assessed),
    warnings: warningsFor(overall, assessed.length, [...sex, ...ageBands]),
  };
}
