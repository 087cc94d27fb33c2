import { type Filter, parseSearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { matchesFilter } from './search-match.js';

/**
 * One `backport-filter-criteria` value, e.g. `Observation?code=http://loinc.org|2093-3`,
 * `Observation?patient=Patient/123`, or type-less `patient=Patient/123`.
 */
export interface TopicFilter {
  /** Resource type the filter is bound to; undefined for a type-less filter. */
  resourceType?: string;
  /** Raw query pairs; parsed per resource type at match time (type-less filters need it). */
  params: [string, string][];
  /** Pre-parsed filters for typed criteria. */
  filters?: Filter[];
}

/** Parses `Type?query`, `?query`, `query` or a bare `Type`. */
export function parseTopicFilter(criteria: string): TopicFilter {
  const q = criteria.indexOf('?');
  const head = q >= 0 ? criteria.slice(0, q) : criteria.includes('=') ? '' : criteria;
  const query = q >= 0 ? criteria.slice(q + 1) : criteria.includes('=') ? criteria : '';
  const resourceType = head.trim() || undefined;
  const params = [...new URLSearchParams(query).entries()];
  const filters = resourceType
    ? (parseSearchRequest(resourceType, Object.fromEntries(params)).filters ?? [])
    : undefined;
  return { resourceType, params, filters };
}

/**
 * The filter rule of the patient-data-changed topic:
 * 1. No filters: every resource in a patient compartment passes.
 * 2. Typed filters (`Type?...`) restrict the topic to the named types: a resource whose type is not
 *    named by any typed filter does not pass. Filters of the resource's own type must all match.
 * 3. Type-less filters apply to every resource and must all match. Their `patient`/`subject`
 *    parameter is checked against the compartment index (any reference to that Patient), since
 *    not every type defines a `patient` search parameter.
 * All applicable filters combine with AND.
 */
export function matchesTopicFilters(
  resource: Resource,
  patientIds: readonly string[],
  filters: readonly TopicFilter[],
): boolean {
  const typed = filters.filter((f) => f.resourceType);
  if (typed.length > 0 && !typed.some((f) => f.resourceType === resource.resourceType)) return false;
  return filters.every((f) => {
    if (f.resourceType) {
      return f.resourceType !== resource.resourceType || (f.filters ?? []).every((x) => matchesFilter(resource, x));
    }
    return f.params.every(([key, value]) => matchesUntyped(resource, patientIds, key, value));
  });
}

function matchesUntyped(resource: Resource, patientIds: readonly string[], key: string, value: string): boolean {
  if (key === 'patient' || key === 'subject') {
    return value.split(',').some((v) => patientIds.includes(v.startsWith('Patient/') ? v.slice(8) : v));
  }
  const filters = parseSearchRequest(resource.resourceType, { [key]: value }).filters ?? [];
  return filters.every((f) => matchesFilter(resource, f));
}
