import { type EhrCapabilities, supportsSearchParam } from '../fhir/capabilities.js';
import { type RecordBounds, TIME_SERIES } from './record-bounds.js';

/** One per-type search of the batch and search strategies. */
export interface TypeSearch {
  type: string;
  /** Relative URL, e.g. `Observation?patient=Patient/1&_count=500`. */
  url: string;
}

export interface SearchPlan {
  patientId: string;
  bounds: RecordBounds;
  caps: EhrCapabilities;
  pageSize: number;
  /** Start of the lookback window (ISO date). */
  windowStart?: string;
  /** Only resources updated at or after this instant (incremental refresh). */
  since?: string;
}

/**
 * The searches that read a patient's record type by type: scoped by `patient` (or `subject` where
 * the EHR lists only that), narrowed by Observation category and by the lookback window where the EHR
 * supports those parameters (the collector filters again, so an EHR that ignores them is harmless).
 */
export function typeSearches(plan: SearchPlan): TypeSearch[] {
  const { caps, bounds } = plan;
  const out: TypeSearch[] = [];
  for (const type of bounds.types) {
    if (type === 'Patient') continue;
    const scope =
      supportsSearchParam(caps, type, 'patient') || !supportsSearchParam(caps, type, 'subject') ? 'patient' : 'subject';
    const params = new URLSearchParams({ [scope]: `Patient/${plan.patientId}` });
    if (type === 'Observation' && bounds.observationCategories && supportsSearchParam(caps, type, 'category')) {
      params.set('category', bounds.observationCategories.join(','));
    }
    const series = TIME_SERIES[type];
    if (series && plan.windowStart && supportsSearchParam(caps, type, series.searchParam)) {
      params.set(series.searchParam, `ge${plan.windowStart}`);
    }
    if (plan.since && (supportsSearchParam(caps, type, '_lastUpdated') || !caps.known)) {
      params.set('_lastUpdated', `ge${plan.since}`);
    }
    params.set('_count', String(plan.pageSize));
    out.push({ type, url: `${type}?${params}` });
  }
  return out;
}
