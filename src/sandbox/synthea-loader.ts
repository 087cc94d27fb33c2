import { access } from 'node:fs/promises';
import type { WithId } from '@medplum/core';
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import { ConditionalResolver } from './conditional-refs.js';
import type { IndexedRepository } from './indexed-repository.js';
import { readJsonDocuments } from './ndjson-reader.js';

/** What one `loadFile` call processed. Counts are of entries read, so a re-load reports the same. */
export interface LoadResult {
  /** Patient resources read. */
  patients: number;
  /** Resources read (including ones that already existed unchanged). */
  resources: number;
  /** Resources actually written (0 when re-loading an unchanged file). */
  written: number;
  /** References left as they were because their target could not be found. */
  unresolvedReferences: number;
}

const URN_UUID = 'urn:uuid:';

/**
 * Bulk-loads Synthea output straight into the repository (no HTTP, no notifications).
 * Each document is a Bundle (transaction/batch/collection) or a bare resource (Bulk Data ndjson).
 * Bundle entries keep their ids, `urn:uuid:` references are rewritten to `Type/id`, `ifNoneExist`
 * entries and conditional references (`Practitioner?identifier=...`) are resolved against resources
 * already stored, and every write is an upsert: Synthea repeats Organization/Practitioner ids across
 * bundles, and loading a file twice must not duplicate anything.
 */
export class SyntheaLoader {
  private readonly resolver: ConditionalResolver;

  constructor(private readonly repo: IndexedRepository) {
    this.resolver = new ConditionalResolver(repo);
  }

  /** Loads a `.ndjson[.gz]` or `.json[.gz]` file; `limit` caps the number of documents (bundles). */
  async loadFile(path: string, limit?: number): Promise<LoadResult> {
    await access(path); // fail with ENOENT before any stream is opened
    const result: LoadResult = { patients: 0, resources: 0, written: 0, unresolvedReferences: 0 };
    let documents = 0;
    for await (const doc of readJsonDocuments(path)) {
      if (limit !== undefined && documents >= limit) break;
      documents++;
      const resource = doc as Resource;
      if (resource.resourceType === 'Bundle') await this.loadBundle(resource, result);
      else await this.store(resource, result);
    }
    return result;
  }

  private async loadBundle(bundle: Bundle, result: LoadResult): Promise<void> {
    const refs = new Map<string, string>(); // fullUrl -> Type/id
    const toStore: Resource[] = [];
    for (const entry of bundle.entry ?? []) {
      if (!entry.resource || entry.request?.method === 'DELETE') continue;
      const existing = entry.request?.ifNoneExist
        ? this.resolver.resolve(`${entry.resource.resourceType}?${entry.request.ifNoneExist}`)
        : undefined;
      const ref = existing ?? `${entry.resource.resourceType}/${this.assignId(entry)}`;
      if (entry.fullUrl) refs.set(entry.fullUrl, ref);
      if (existing) countRead(entry.resource, result);
      else toStore.push(entry.resource);
    }
    for (const resource of toStore) {
      result.unresolvedReferences += rewriteReferences(resource, (ref) => this.resolveRef(ref, refs));
      await this.store(resource, result);
    }
  }

  /** Keeps the resource id; otherwise takes it from `PUT Type/id` or a `urn:uuid:` fullUrl. */
  private assignId(entry: BundleEntry): string {
    const resource = entry.resource as Resource;
    if (!resource.id) {
      const putId = entry.request?.method === 'PUT' ? entry.request.url?.split('?')[0].split('/')[1] : undefined;
      const uuid = entry.fullUrl?.startsWith(URN_UUID) ? entry.fullUrl.slice(URN_UUID.length) : undefined;
      resource.id = putId || uuid || this.repo.generateId();
    }
    return resource.id;
  }

  private resolveRef(ref: string, refs: Map<string, string>): string | undefined {
    if (ref.startsWith(URN_UUID)) return refs.get(ref);
    if (/^[A-Z][A-Za-z]+\?/.test(ref)) return this.resolver.resolve(ref);
    return ref;
  }

  private async store(resource: Resource, result: LoadResult): Promise<void> {
    resource.id ??= this.repo.generateId();
    countRead(resource, result);
    if (await this.repo.importResource(resource as WithId<Resource>)) result.written++;
    this.resolver.remember(resource);
  }
}

function countRead(resource: Resource, result: LoadResult): void {
  result.resources++;
  if (resource.resourceType === 'Patient') result.patients++;
}

/**
 * Rewrites every `reference` string in place with `map` (undefined = leave unchanged and count it
 * as unresolved). Returns the number of unresolved references.
 */
export function rewriteReferences(value: unknown, map: (reference: string) => string | undefined): number {
  if (Array.isArray(value)) {
    let n = 0;
    for (const item of value) n += rewriteReferences(item, map);
    return n;
  }
  if (value === null || typeof value !== 'object') return 0;
  let unresolved = 0;
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const child = obj[key];
    if (key === 'reference' && typeof child === 'string') {
      const next = map(child);
      if (next === undefined) unresolved++;
      else obj[key] = next;
    } else if (typeof child === 'object') {
      unresolved += rewriteReferences(child, map);
    }
  }
  return unresolved;
}
