import type { Source } from '../config/sources.js';
import { RecordAssembler } from '../record/assemble-record.js';
import { DEFAULT_CACHE_BYTES, RecordCache } from '../record/record-cache.js';
import { createAuth } from './auth/create-auth.js';
import { BaseUrlGuard } from './base-url-guard.js';
import type { EhrCapabilities } from './capabilities.js';
import { FhirClient } from './fhir-client.js';

/** The EHR client for one configured source: its auth strategy, timeout, concurrency and size limits. */
export function createSourceClient(source: Source, fetchImpl: typeof fetch = fetch): FhirClient {
  const guard = new BaseUrlGuard(source.fhirBaseUrl);
  return new FhirClient({
    baseUrl: source.fhirBaseUrl,
    auth: createAuth(source.auth, { guard, fetch: fetchImpl, timeoutMs: source.timeoutMs }),
    timeoutMs: source.timeoutMs,
    maxConcurrency: source.maxConcurrency,
    maxResponseBytes: source.maxResponseBytes,
    fetch: fetchImpl,
  });
}

/** The record assembler for one source (strategy, bounds and the in-memory `_since` cache from its config). */
export function createSourceAssembler(source: Source, client: FhirClient): RecordAssembler {
  const r = source.record;
  return new RecordAssembler(client, {
    strategy: source.recordStrategy,
    source: source.name,
    pageSize: r.pageSize,
    maxResources: r.maxResources,
    cache:
      r.cachePatients > 0 && r.cacheBytes > 0
        ? new RecordCache(r.cachePatients, r.cacheTtlMs, Date.now, r.cacheBytes)
        : undefined,
  });
}

interface SourceEntry {
  source: Source;
  client: FhirClient;
  assembler: RecordAssembler;
}

/** Every configured source with its client and record assembler, by name. */
export class SourceRegistry {
  private readonly byName = new Map<string, SourceEntry>();

  constructor(sources: readonly Source[], makeClient: (s: Source) => FhirClient = (s) => createSourceClient(s)) {
    for (const source of sources) {
      const client = makeClient(source);
      // Sources built by hand (tests) may lack the record block: fall back to the schema defaults.
      const withDefaults = { ...source, record: source.record ?? DEFAULT_RECORD_SETTINGS };
      this.byName.set(source.name, { source, client, assembler: createSourceAssembler(withDefaults, client) });
    }
  }

  get(name: string): SourceEntry {
    const entry = this.byName.get(name);
    if (!entry) throw new Error(`unknown source '${name}'`);
    return entry;
  }

  client(name: string): FhirClient {
    return this.get(name).client;
  }

  assembler(name: string): RecordAssembler {
    return this.get(name).assembler;
  }

  all(): SourceEntry[] {
    return [...this.byName.values()];
  }

  /**
   * Start-up discovery: each EHR's CapabilityStatement (which also obtains the first token). Failures
   * are returned, not thrown: an EHR that is down at start-up is asked again on first use.
   */
  async discover(): Promise<Map<string, EhrCapabilities | Error>> {
    const results = new Map<string, EhrCapabilities | Error>();
    await Promise.all(
      this.all().map(async ({ source, client }) => {
        results.set(source.name, await client.capabilities().catch((err: Error) => err));
      }),
    );
    return results;
  }
}

const DEFAULT_RECORD_SETTINGS: Source['record'] = {
  maxResources: 20_000,
  pageSize: 500,
  cachePatients: 256,
  cacheBytes: DEFAULT_CACHE_BYTES,
  cacheTtlMs: 300_000,
};
