import {
  convertToSearchableReferences,
  convertToSearchableTokens,
  evalFhirPathTyped,
  type FhirPathAtom,
  type Filter,
  getParsedExpressionForResourceType,
  getSearchParameter,
  matchesSearchRequest,
  Operator,
  type SortRule,
  splitSearchOnComma,
  toTypedValue,
} from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

/*
 * Why this exists: @medplum/core's matchesSearchRequest re-parses the search parameter's FHIRPath on
 * every call, and shared parameters such as `patient` or `code` are 30-way unions over all resource
 * types (~0.9 ms per resource for `patient`). Here the expression is narrowed to the resource type
 * and parsed once. Only plain equality on reference and token parameters takes the fast path;
 * everything else falls back to matchesSearchRequest, so the semantics stay Medplum's.
 */

const parsedCache = new Map<string, FhirPathAtom>();

/**
 * The search parameter's FHIRPath narrowed to one resource type, parsed once per process. A miss is
 * not cached: asked before the search parameters are indexed, it must not stay a miss afterwards.
 */
function parsedExpression(resourceType: string, code: string): FhirPathAtom | undefined {
  const key = `${resourceType}|${code}`;
  let atom = parsedCache.get(key);
  if (atom === undefined) {
    const expression = getSearchParameter(resourceType, code)?.expression;
    if (!expression) return undefined;
    atom = getParsedExpressionForResourceType(resourceType, expression);
    parsedCache.set(key, atom);
  }
  return atom;
}

/** Evaluates a search parameter's expression against a resource. */
function evalParam(resource: Resource, code: string): ReturnType<typeof evalFhirPathTyped> | undefined {
  const atom = parsedExpression(resource.resourceType, code);
  return atom ? evalFhirPathTyped(atom, [toTypedValue(resource)]) : undefined;
}

/** True if the resource satisfies every filter (AND), with Medplum's semantics. */
export function matchesFilters(resource: Resource, filters: readonly Filter[] | undefined): boolean {
  for (const filter of filters ?? []) {
    if (!matchesFilter(resource, filter)) return false;
  }
  return true;
}

/** True if the resource satisfies one filter. */
export function matchesFilter(resource: Resource, filter: Filter): boolean {
  const type = getSearchParameter(resource.resourceType, filter.code)?.type;
  if (filter.operator === Operator.EQUALS && type === 'reference') {
    const values = evalParam(resource, filter.code);
    if (values) return referenceEquals(values, filter.value);
  }
  if (filter.operator === Operator.EQUALS && type === 'token') {
    const values = evalParam(resource, filter.code);
    if (values) return tokenEquals(values, filter.value);
  }
  return matchesSearchRequest(resource, { resourceType: resource.resourceType, filters: [filter] });
}

function referenceEquals(values: ReturnType<typeof evalFhirPathTyped>, filterValue: string): boolean {
  if (filterValue === '' && values.length === 0) return true;
  const refs = convertToSearchableReferences(values);
  return splitSearchOnComma(filterValue).some((v) => refs.includes(v));
}

function tokenEquals(values: ReturnType<typeof evalFhirPathTyped>, filterValue: string): boolean {
  const tokens = convertToSearchableTokens(values);
  const wanted = splitSearchOnComma(filterValue);
  return tokens.some((t) => wanted.some((w) => tokenValueMatches(t, w)));
}

/** The tokens (system, value) a resource is searchable by under a token parameter. */
export function searchableTokens(resource: Resource, code: string): { system?: string; value?: string }[] {
  const values = evalParam(resource, code);
  return values ? convertToSearchableTokens(values) : [];
}

/**
 * One token filter value, lower-cased: `code` (any system), `|code` (no system), `system|`,
 * `system|code`. Split as Medplum does: anything after a second `|` is ignored.
 */
export function tokenFilterParts(filterValue: string): { system?: string; value?: string; anySystem: boolean } {
  if (!filterValue.includes('|')) return { value: filterValue.toLowerCase(), anySystem: true };
  const [system, value] = filterValue.split('|').map((s) => s.toLowerCase());
  return { system: system || undefined, value: value || undefined, anySystem: false };
}

/** Same rules as Medplum's matchesTokenValue (case-insensitive, `system|code`, `|code`, `system|`). */
function tokenValueMatches(token: { system?: string; value?: string }, filterValue: string): boolean {
  const value = token.value?.toLowerCase();
  const wanted = tokenFilterParts(filterValue);
  if (wanted.anySystem) return value === wanted.value;
  if (!wanted.system && !wanted.value) return false;
  if (!wanted.system) return !token.system && value === wanted.value;
  return token.system?.toLowerCase() === wanted.system && (!wanted.value || value === wanted.value);
}

/**
 * Sorts resources by `_sort` rules (first rule is the primary key). Keys are computed once per
 * resource and compared as JSON strings, like MemoryRepository does.
 */
export function sortResources<T extends Resource>(resources: T[], sortRules: readonly SortRule[] | undefined): T[] {
  if (!sortRules?.length || resources.length < 2) return resources;
  const keyed = resources.map((r) => ({ r, keys: sortRules.map((rule) => sortKey(r, rule.code)) }));
  keyed.sort((a, b) => {
    for (let i = 0; i < sortRules.length; i++) {
      const cmp = a.keys[i].localeCompare(b.keys[i]) * (sortRules[i].descending ? -1 : 1);
      if (cmp !== 0) return cmp;
    }
    return 0;
  });
  return keyed.map((k) => k.r);
}

function sortKey(resource: Resource, code: string): string {
  const values = evalParam(resource, code);
  return values ? JSON.stringify(values.map((v) => v.value)) : '';
}
