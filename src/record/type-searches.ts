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
 * When the window narrowed Observations and the models need the newest value of some codes whatever
 * its date, one more search reads those codes before the window (see {@link olderValuesSearch}).
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
    const windowed = !!series && !!plan.windowStart && supportsSearchParam(caps, type, series.searchParam);
    if (windowed) params.set(series.searchParam, `ge${plan.windowStart}`);
    out.push({ type, url: `${type}?${finish(params, plan, type)}` });
    if (windowed && type === 'Observation' && bounds.latestCodes?.length) out.push(olderValuesSearch(plan, params));
  }
  return out;
}

/** Adds the incremental `_lastUpdated` bound and the page size. */
function finish(params: URLSearchParams, plan: SearchPlan, type: string): URLSearchParams {
  if (plan.since && (supportsSearchParam(plan.caps, type, '_lastUpdated') || !plan.caps.known)) {
    params.set('_lastUpdated', `ge${plan.since}`);
  }
  params.set('_count', String(plan.pageSize));
  return params;
}

/**
 * Observations of the needed codes dated before the window (`date=lt`), so that the collector can keep
 * the newest of each and a model can call an old value stale instead of missing. Narrowed by `code`
 * where the EHR supports it; otherwise every older Observation is read and the collector keeps those.
 */
function olderValuesSearch(plan: SearchPlan, windowed: URLSearchParams): TypeSearch {
  const params = new URLSearchParams(windowed);
  params.set('date', `lt${plan.windowStart}`);
  const codes = plan.bounds.latestCodes ?? [];
  if (supportsSearchParam(plan.caps, 'Observation', 'code')) {
    params.set('code', codes.map((c) => `http://loinc.org|${c}`).join(','));
  }
  return { type: 'Observation', url: `Observation?${finish(params, plan, 'Observation')}` };
}
