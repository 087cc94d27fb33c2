import type { Bundle, Observation, Quantity } from '@medplum/fhirtypes';
import type { LastValue } from '../model.js';
import { refOf, resourcesOf } from './bundle.js';
import { SYSTEM } from './codes.js';
import { isoDay, parseFhirDate, yearsBefore } from './dates.js';
import { CHOLESTEROL_UNITS, CREATININE_UNITS, normaliseQuantity, PRESSURE_UNITS, type UnitRule } from './units.js';

/** Milliseconds per hour, for recency windows given in hours. */
const MS_PER_HOUR = 3_600_000;

/** What to look for: LOINC codes (top level, or as components of the given panels), unit rule and recency. */
export interface ObservationSpec {
  /** Input name used in `inputsUsed` / `missing`, e.g. "Total cholesterol". */
  name: string;
  /** LOINC codes accepted as the value itself. */
  codes: readonly string[];
  /** LOINC codes of panels whose `component[]` may carry one of `codes` (e.g. BP panels). */
  panelCodes?: readonly string[];
  units: UnitRule;
  /** Values older than this many years before as-of are reported as `stale`. */
  maxAgeYears?: number;
  /** Like `maxAgeYears`, in hours, for acute vital signs (NEWS2, qSOFA); wins when both are set. */
  maxAgeHours?: number;
}

/** A copy of `spec` with another recency window (e.g. from model parameters). */
export function withMaxAge(spec: ObservationSpec, window: { years?: number; hours?: number }): ObservationSpec {
  return { ...spec, maxAgeYears: window.years, maxAgeHours: window.hours };
}

/** Start of the recency window of `spec` at `asOf`, or undefined when it has none. */
export function windowStart(spec: Pick<ObservationSpec, 'maxAgeYears' | 'maxAgeHours'>, asOf: Date): Date | undefined {
  if (spec.maxAgeHours !== undefined) return new Date(asOf.getTime() - spec.maxAgeHours * MS_PER_HOUR);
  return spec.maxAgeYears !== undefined ? yearsBefore(asOf, spec.maxAgeYears) : undefined;
}

/** "2 years" or "24 hours": the window of `spec` for messages. */
export function windowText(spec: Pick<ObservationSpec, 'maxAgeYears' | 'maxAgeHours'>): string {
  const [n, unit] = spec.maxAgeHours !== undefined ? [spec.maxAgeHours, 'hour'] : [spec.maxAgeYears, 'year'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** "Total cholesterol last measured 2014-03-02: 212 mg/dL (older than 5 years; Observation/1)". */
export function staleText(name: string, last: LastValue, window: string): string {
  const value =
    typeof last.value === 'number' ? `${+last.value.toFixed(2)}${last.unit ? ` ${last.unit}` : ''}` : last.value;
  return `${name} last measured ${last.effective}: ${value} (older than ${window}; ${last.source})`;
}

/** The chosen value, or why there is none (with the newest value found, when it was too old). */
export type ObservationValue =
  | { ok: true; name: string; value: number; unit: string; source: string; effective: string }
  | { ok: false; name: string; reason: 'missing' | 'stale' | 'out-of-range'; detail: string; last?: LastValue };

/** Statuses whose values may be used; an absent status is tolerated (some feeds omit it). */
const USABLE_STATUS = new Set(['final', 'amended', 'corrected']);

/** Clinically relevant time of an Observation: effective[x] (period end, else start), else `issued`. */
export function observationTime(obs: Observation): Date | undefined {
  return parseFhirDate(
    obs.effectiveDateTime ??
      obs.effectiveInstant ??
      obs.effectivePeriod?.end ??
      obs.effectivePeriod?.start ??
      obs.issued,
  );
}

function hasLoinc(obs: { code?: Observation['code'] }, codes: readonly string[]): boolean {
  return (obs.code?.coding ?? []).some((c) => c.system === SYSTEM.loinc && c.code && codes.includes(c.code));
}

/** Per-Bundle index of Observations by top-level LOINC code (built once, like `resourcesOf`'s type index). */
const byLoincCache = new WeakMap<Bundle, Map<string, Observation[]>>();

function observationsWithLoinc(bundle: Bundle, codes: readonly string[]): Observation[] {
  let index = byLoincCache.get(bundle);
  if (!index) {
    index = new Map();
    for (const o of resourcesOf(bundle, 'Observation')) {
      for (const c of o.code?.coding ?? []) {
        if (c.system !== SYSTEM.loinc || !c.code) continue;
        const list = index.get(c.code) ?? [];
        if (list[list.length - 1] !== o) list.push(o);
        index.set(c.code, list);
      }
    }
    byLoincCache.set(bundle, index);
  }
  const found = codes.flatMap((c) => index.get(c) ?? []);
  return codes.length > 1 ? [...new Set(found)] : found;
}

/** Usable Observations with one of the LOINC codes, effective on or before as-of, newest first. */
export function observationsAsOf(bundle: Bundle, codes: readonly string[], asOf: Date): Observation[] {
  return observationsWithLoinc(bundle, codes)
    .filter((o) => o.status === undefined || USABLE_STATUS.has(o.status))
    .map((o) => ({ o, t: observationTime(o) }))
    .filter((x): x is { o: Observation; t: Date } => x.t !== undefined && x.t.getTime() <= asOf.getTime())
    .sort((a, b) => b.t.getTime() - a.t.getTime())
    .map((x) => x.o);
}

/** The quantity for `spec` in one Observation: top-level value, or a matching component of a panel. */
function quantityIn(obs: Observation, spec: ObservationSpec): Quantity | undefined {
  if (hasLoinc(obs, spec.codes)) return obs.dataAbsentReason ? undefined : obs.valueQuantity;
  const comp = obs.component?.find((c) => hasLoinc(c, spec.codes) && !c.dataAbsentReason);
  return comp?.valueQuantity;
}

/**
 * The latest usable value for `spec` at `asOf`, converted to the canonical unit. Values in an unknown unit
 * are skipped (an older convertible value may then be used); the newest usable value decides staleness.
 */
export function latestObservationValue(bundle: Bundle, spec: ObservationSpec, asOf: Date): ObservationValue {
  const codes = [...spec.codes, ...(spec.panelCodes ?? [])];
  const problems: string[] = [];
  for (const obs of observationsAsOf(bundle, codes, asOf)) {
    const q = normaliseQuantity(quantityIn(obs, spec), spec.units);
    if (!q.ok) {
      problems.push(`${refOf(obs)}: ${q.detail}`);
      continue;
    }
    const when = observationTime(obs)!;
    const effective = spec.maxAgeHours !== undefined ? when.toISOString() : isoDay(when);
    const start = windowStart(spec, asOf);
    if (start && when.getTime() < start.getTime()) {
      const last: LastValue = { value: q.value, unit: q.unit, effective, source: refOf(obs) };
      return {
        ok: false,
        name: spec.name,
        reason: 'stale',
        detail: staleText(spec.name, last, windowText(spec)),
        last,
      };
    }
    return { ok: true, name: spec.name, value: q.value, unit: q.unit, source: refOf(obs), effective };
  }
  const wanted = `LOINC ${spec.codes.join('/')}`;
  const detail =
    problems.length > 0 ? `no usable ${wanted}: ${problems.slice(0, 3).join('; ')}` : `no ${wanted} on or before as-of`;
  return { ok: false, name: spec.name, reason: 'missing', detail };
}

/** Lipids: the 2013 guideline suggests re-assessing risk factors every 4–6 years, so accept up to 5 years (years). */
export const LIPID_MAX_AGE_YEARS = 5;
/** Blood pressure is measured at nearly every visit; require one from the last 2 years (years). */
export const BP_MAX_AGE_YEARS = 2;

/** Total cholesterol, mg/dL: LOINC 2093-3 (mass) or 14647-2 (moles). */
export const TOTAL_CHOLESTEROL: ObservationSpec = {
  name: 'Total cholesterol',
  codes: ['2093-3', '14647-2'],
  units: CHOLESTEROL_UNITS,
  maxAgeYears: LIPID_MAX_AGE_YEARS,
};

/** HDL cholesterol, mg/dL: LOINC 2085-9 (mass) or 14646-4 (moles). */
export const HDL_CHOLESTEROL: ObservationSpec = {
  name: 'HDL cholesterol',
  codes: ['2085-9', '14646-4'],
  units: CHOLESTEROL_UNITS,
  maxAgeYears: LIPID_MAX_AGE_YEARS,
};

/** Systolic BP, mm[Hg]: 8480-6 at top level or inside a BP panel (55284-4 as Synthea writes it, or 85354-9). */
export const SYSTOLIC_BP: ObservationSpec = {
  name: 'Systolic blood pressure',
  codes: ['8480-6'],
  panelCodes: ['55284-4', '85354-9'],
  units: PRESSURE_UNITS,
  maxAgeYears: BP_MAX_AGE_YEARS,
};

/** Serum creatinine, mg/dL: 2160-0 (serum/plasma), 38483-4 (blood; Synthea), 14682-9 (µmol/L). */
export const SERUM_CREATININE: ObservationSpec = {
  name: 'Serum creatinine',
  codes: ['2160-0', '38483-4', '14682-9'],
  units: CREATININE_UNITS,
  /** Years: kidney function drifts, so like BP only recent values count (not yet used by a calculator). */
  maxAgeYears: 2,
};

/** One usable value of a series. */
export interface SeriesValue {
  value: number;
  unit: string;
  source: string;
  effective: string;
}

/** Every usable value for `spec` inside its recency window at `asOf`, newest first (e.g. an INR series). */
export function observationSeries(bundle: Bundle, spec: ObservationSpec, asOf: Date): SeriesValue[] {
  const start = windowStart(spec, asOf);
  const out: SeriesValue[] = [];
  for (const obs of observationsAsOf(bundle, [...spec.codes, ...(spec.panelCodes ?? [])], asOf)) {
    const when = observationTime(obs)!;
    if (start && when.getTime() < start.getTime()) break;
    const q = normaliseQuantity(quantityIn(obs, spec), spec.units);
    if (q.ok) out.push({ value: q.value, unit: q.unit, source: refOf(obs), effective: isoDay(when) });
  }
  return out;
}
