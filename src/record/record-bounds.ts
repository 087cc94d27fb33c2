import type { Resource } from '@medplum/fhirtypes';
import type { DataRequirement } from '../models/model.js';

/** What one record may contain, from configuration and from what the enabled models declare. */
export interface RecordBounds {
  /** Resource types to read (Patient always first). */
  types: string[];
  /** Lookback window for time-series types, years; undefined keeps everything. */
  lookbackYears?: number;
  /** Most resources kept (Patient included); beyond it the record is marked truncated. */
  maxResources: number;
  /** Observation categories to ask for, when every model that reads Observations declared them. */
  observationCategories?: string[];
  /** LOINC codes whose newest Observation is kept even when older than the lookback window (union of models). */
  latestCodes?: string[];
}

/**
 * Types whose old entries stop mattering, with the element holding their clinical date and the
 * search parameter that filters on it. Conditions, medications and allergies have no lookback: a
 * myocardial infarction ten years ago, or a statin started long ago and still active, are current facts.
 */
export const TIME_SERIES: Record<string, { searchParam: string; dateOf: (r: Resource) => string | undefined }> = {
  Observation: {
    searchParam: 'date',
    dateOf: (r) => pick(r, 'effectiveDateTime', 'effectivePeriod', 'effectiveInstant', 'issued'),
  },
  DiagnosticReport: { searchParam: 'date', dateOf: (r) => pick(r, 'effectiveDateTime', 'effectivePeriod', 'issued') },
  Encounter: { searchParam: 'date', dateOf: (r) => pick(r, 'period') },
  Procedure: { searchParam: 'date', dateOf: (r) => pick(r, 'performedDateTime', 'performedPeriod') },
  Immunization: { searchParam: 'date', dateOf: (r) => pick(r, 'occurrenceDateTime') },
};

/** Default upper bound on one record: 20,000 resources (a long Synthea history is ~5,000). */
export const DEFAULT_MAX_RESOURCES = 20_000;

/**
 * Combines the models' requirements: the union of their types; the longest lookback (none if any
 * model wants all history); the configured maximum, lowered to the largest a model declares when
 * every model declares one; the union of the codes whose newest value is needed whatever its date
 * (pointless, so left out, without a lookback).
 */
export function boundsFor(requires: readonly DataRequirement[], maxResources = DEFAULT_MAX_RESOURCES): RecordBounds {
  const types = ['Patient', ...new Set(requires.flatMap((r) => r.resourceTypes).filter((t) => t !== 'Patient'))];
  const lookbacks = requires.map((r) => r.lookbackYears);
  const lookbackYears =
    lookbacks.length && lookbacks.every((y) => y !== undefined) ? Math.max(...(lookbacks as number[])) : undefined;
  const declared = requires.map((r) => r.maxResources);
  const modelCap =
    declared.length && declared.every((m) => m !== undefined) ? Math.max(...(declared as number[])) : Infinity;
  const readers = requires.filter((r) => r.resourceTypes.includes('Observation'));
  const categories =
    readers.length && readers.every((r) => r.observationCategories?.length)
      ? [...new Set(readers.flatMap((r) => r.observationCategories ?? []))]
      : undefined;
  const latest = [...new Set(requires.flatMap((r) => r.latestObservationCodes ?? []))];
  return {
    types,
    lookbackYears,
    maxResources: Math.min(maxResources, modelCap),
    observationCategories: categories,
    ...(latest.length > 0 && lookbackYears !== undefined && { latestCodes: latest }),
  };
}

/** The start of the lookback window (ISO date) for an as-of date, or undefined without a lookback. */
export function lookbackStart(bounds: RecordBounds, asOf: Date): string | undefined {
  if (bounds.lookbackYears === undefined) return undefined;
  const d = new Date(asOf);
  d.setUTCFullYear(d.getUTCFullYear() - bounds.lookbackYears);
  return d.toISOString().slice(0, 10);
}

/** True when a time-series resource is dated before the window start (undated resources stay). */
export function beforeWindow(r: Resource, windowStart: string | undefined): boolean {
  if (!windowStart) return false;
  const date = TIME_SERIES[r.resourceType]?.dateOf(r);
  return date !== undefined && date.slice(0, 10) < windowStart;
}

function pick(r: Resource, ...keys: string[]): string | undefined {
  const obj = r as unknown as Record<string, unknown>;
  for (const key of keys) {
    const v = obj[key];
    if (typeof v === 'string') return v;
    if (v && typeof v === 'object') {
      const p = v as { start?: string; end?: string };
      if (p.end ?? p.start) return p.end ?? p.start; // a period counts by its latest known date
    }
  }
  return undefined;
}
