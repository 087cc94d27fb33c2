import { type Filter, Operator, splitSearchOnComma } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { searchableTokens, tokenFilterParts } from './search-match.js';

/** Token parameters the write-back's conditional creates and look-ups search by. */
export const INDEXED_TOKEN_CODES: readonly string[] = ['identifier', '_tag'];

/**
 * resourceType -> search code -> key -> ids, where a key is `v:<value>` or `s:<system>` (lower case).
 *
 * Why: conditional creates search `identifier=` and `_tag=` without a patient, and MemoryRepository
 * answers them by evaluating FHIRPath on every stored resource of the type, so each write-back cost
 * more than the one before (issue 17: 3 s → 29 s per job over a 590-patient backfill). The index only
 * narrows the candidates; the caller re-checks every filter with Medplum's semantics.
 */
export class TokenIndex {
  private readonly byType = new Map<string, Map<string, Map<string, Set<string>>>>();

  constructor(private readonly codes: readonly string[] = INDEXED_TOKEN_CODES) {}

  /** Replaces one resource's entries: `before` is the replaced version, `after` the stored one (absent on delete). */
  update(before: Resource | undefined, after: Resource | undefined): void {
    const resource = after ?? before;
    if (!resource?.id) return;
    const oldKeys = before ? this.keysOf(before) : new Map<string, Set<string>>();
    const newKeys = after ? this.keysOf(after) : new Map<string, Set<string>>();
    for (const code of this.codes) {
      const gone = oldKeys.get(code) ?? EMPTY;
      const kept = newKeys.get(code) ?? EMPTY;
      for (const key of gone) if (!kept.has(key)) this.remove(resource.resourceType, code, key, resource.id);
      for (const key of kept) if (!gone.has(key)) this.add(resource.resourceType, code, key, resource.id);
    }
  }

  /**
   * Ids that may match an equality filter on an indexed code (a superset of the matches), or
   * undefined when the index cannot answer (other code or operator, or an empty part).
   */
  candidates(resourceType: string, filter: Filter): ReadonlySet<string> | undefined {
    if (filter.operator !== Operator.EQUALS || !this.codes.includes(filter.code)) return undefined;
    const byKey = this.byType.get(resourceType)?.get(filter.code);
    const out = new Set<string>();
    for (const part of splitSearchOnComma(filter.value)) {
      const key = lookupKey(part);
      if (!key) return undefined;
      for (const id of byKey?.get(key) ?? EMPTY) out.add(id);
    }
    return out;
  }

  clear(): void {
    this.byType.clear();
  }

  private keysOf(resource: Resource): Map<string, Set<string>> {
    const out = new Map<string, Set<string>>();
    for (const code of this.codes) {
      const keys = new Set<string>();
      for (const token of searchableTokens(resource, code)) {
        if (token.value) keys.add(`v:${token.value.toLowerCase()}`);
        if (token.system) keys.add(`s:${token.system.toLowerCase()}`);
      }
      if (keys.size) out.set(code, keys);
    }
    return out;
  }

  private add(resourceType: string, code: string, key: string, id: string): void {
    const byCode = getOrCreate(this.byType, resourceType, () => new Map<string, Map<string, Set<string>>>());
    const byKey = getOrCreate(byCode, code, () => new Map<string, Set<string>>());
    getOrCreate(byKey, key, () => new Set<string>()).add(id);
  }

  private remove(resourceType: string, code: string, key: string, id: string): void {
    const byKey = this.byType.get(resourceType)?.get(code);
    const ids = byKey?.get(key);
    if (!byKey || !ids) return;
    ids.delete(id);
    if (ids.size === 0) byKey.delete(key);
  }
}

/** The index key a filter part needs: its value when it has one, else its system (`system|`). */
function lookupKey(part: string): string | undefined {
  const { system, value } = tokenFilterParts(part);
  if (value) return `v:${value}`;
  if (system) return `s:${system}`;
  return undefined;
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

const EMPTY: ReadonlySet<string> = new Set();
