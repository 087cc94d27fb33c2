import { parseSearchRequest } from '@medplum/core';
import type { Identifier, Resource } from '@medplum/fhirtypes';
import type { IndexedRepository } from './indexed-repository.js';
import { matchesFilters } from './search-match.js';

/**
 * Resolves conditional references (`Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|123`)
 * and `ifNoneExist` queries against already-stored resources, for the bulk loader.
 *
 * Why an index: modern Synthea exports reference practitioners/locations/organizations only this
 * way (hundreds per patient bundle) and a repository search is a linear scan. The identifier map
 * for a type is built on the first lookup of that type, then kept current by `remember()`; types
 * never looked up cost no memory. Anything that is not `identifier=system|value` falls back to a
 * repository search.
 */
export class ConditionalResolver {
  private readonly byType = new Map<string, Map<string, string>>();

  constructor(private readonly repo: IndexedRepository) {}

  /** Records the identifiers of a freshly stored resource (only for types already indexed). */
  remember(resource: Resource): void {
    const map = this.byType.get(resource.resourceType);
    if (map && resource.id) addIdentifiers(map, identifiersOf(resource), resource.id);
  }

  /** Resolves `Type?query` to `Type/id`, or undefined when nothing matches. */
  resolve(conditional: string): string | undefined {
    const q = conditional.indexOf('?');
    if (q <= 0) return undefined;
    const resourceType = conditional.slice(0, q);
    const key = identifierKey(conditional.slice(q + 1));
    if (key) {
      const id = this.identifierMap(resourceType).get(key);
      if (id && this.repo.peek(resourceType, id)) return `${resourceType}/${id}`;
    }
    return this.search(resourceType, conditional);
  }

  private search(resourceType: string, conditional: string): string | undefined {
    const request = parseSearchRequest(conditional);
    for (const resource of this.repo.resourcesOf(resourceType)) {
      if (request.filters && matchesFilters(resource, request.filters)) return `${resourceType}/${resource.id}`;
    }
    return undefined;
  }

  private identifierMap(resourceType: string): Map<string, string> {
    let map = this.byType.get(resourceType);
    if (!map) {
      map = new Map();
      for (const r of this.repo.resourcesOf(resourceType)) addIdentifiers(map, identifiersOf(r), r.id);
      this.byType.set(resourceType, map);
    }
    return map;
  }
}

/** `identifier=system|value` (a single parameter) to the map key `system|value`. */
function identifierKey(query: string): string | undefined {
  if (!query.startsWith('identifier=') || query.includes('&')) return undefined;
  try {
    const value = decodeURIComponent(query.slice('identifier='.length));
    return value.includes('|') ? value : undefined;
  } catch {
    return undefined;
  }
}

function identifiersOf(resource: Resource): Identifier[] {
  const value = (resource as { identifier?: Identifier | Identifier[] }).identifier;
  return Array.isArray(value) ? value : value ? [value] : [];
}

function addIdentifiers(map: Map<string, string>, identifiers: Identifier[], id: string): void {
  for (const i of identifiers) {
    if (i.system && i.value && !map.has(`${i.system}|${i.value}`)) map.set(`${i.system}|${i.value}`, id);
  }
}
