import type { Bundle, Coding, Resource } from '@medplum/fhirtypes';
import { type EhrCapabilities, UNKNOWN_CAPABILITIES } from '../fhir/capabilities.js';
import type { FhirClient } from '../fhir/fhir-client.js';
import { FhirHttpError } from '../fhir/fhir-errors.js';
import type { DataRequirement, PatientRecord } from '../models/model.js';
import { boundsFor, DEFAULT_MAX_RESOURCES, lookbackStart, type RecordBounds } from './record-bounds.js';
import type { CachedRecord, RecordCache } from './record-cache.js';
import { RecordCollector } from './record-collector.js';
import { STRATEGIES, type Strategy } from './strategies.js';
import type { SearchPlan } from './type-searches.js';

export type { Strategy } from './strategies.js';

/** Code system of the `meta.tag`s that describe how a record was assembled. */
export const ASSEMBLY_SYSTEM = 'http://fhir-assess.dev/CodeSystem/assembly';

export interface AssemblerSettings {
  /** `auto` picks from the CapabilityStatement (falling back at run time); the others force one. */
  strategy: 'auto' | Strategy;
  /** `_count` per page. */
  pageSize: number;
  /** Upper bound on resources in one record (the models may lower it). */
  maxResources: number;
  /** Previous records for `_since` refreshes; absent: every read is a full read. */
  cache?: RecordCache;
  /** Subtracted from the previous read's start for `_since` (clock skew, writes in flight), ms. */
  sinceOverlapMs?: number;
}

export interface AssembleRequest {
  /** What the enabled models need. */
  requires: DataRequirement[];
  /** The assessment's as-of date: the lookback window ends here. Default now. */
  asOf?: Date;
  /** Ignore the cached record and read in full (a resource was deleted: `_since` cannot show that). */
  fullRead?: boolean;
}

/** Default `_count`: 500 resources per page. */
export const DEFAULT_PAGE_SIZE = 500;
const DEFAULT_SINCE_OVERLAP_MS = 60_000;
/** Answers meaning "this EHR does not do that" (or not that way): try the next strategy. */
const NOT_SUPPORTED = new Set([400, 404, 405, 406, 415, 422, 501]);

/**
 * Reads patients' longitudinal records from one EHR, cheapest way first: `Patient/$everything`, else
 * one `batch` of per-type searches, else concurrent searches. Remembers strategies the EHR rejected
 * as unsupported (405/501) for the life of the process.
 */
export class RecordAssembler {
  private readonly unsupported = new Set<Strategy>();

  constructor(
    readonly client: FhirClient,
    readonly settings: AssemblerSettings,
  ) {}

  async assemble(patientId: string, req: AssembleRequest): Promise<PatientRecord> {
    const bounds = boundsFor(req.requires, this.settings.maxResources);
    const windowStart = lookbackStart(bounds, req.asOf ?? new Date());
    const caps = await this.client.capabilities().catch(() => UNKNOWN_CAPABILITIES);
    const cacheKey = `${patientId}|${bounds.types.join(',')}|${bounds.observationCategories ?? ''}`;
    const cached = req.fullRead ? undefined : this.settings.cache?.get(cacheKey);
    const readAt = new Date().toISOString();
    const overlap = this.settings.sinceOverlapMs ?? DEFAULT_SINCE_OVERLAP_MS;
    const since = cached ? new Date(Date.parse(cached.readAt) - overlap).toISOString() : undefined;
    const plan: SearchPlan = { patientId, bounds, caps, pageSize: this.settings.pageSize, windowStart, since };
    const { collector, strategy } = await this.read(plan, cached);
    if (!collector.patient) throw new Error(`the EHR returned no Patient/${patientId} (strategy ${strategy})`);
    const { resources, dropped } = collector.resources();
    const reason = truncationReason(bounds, dropped, collector.incomplete);
    if (this.settings.cache && !reason) {
      const lines = new Map(collector.hashLinesByKey());
      this.settings.cache.set(cacheKey, { resources: new Map(collector.entries()), lines, readAt });
    } else this.settings.cache?.delete(cacheKey);
    const facts = { strategy, bounds, windowStart, incremental: !!since, reason };
    return buildRecord(patientId, resources, collector.hashOf(resources), facts);
  }

  /** Runs the strategies in order until one completes; only "not supported" answers move on. */
  private async read(
    plan: SearchPlan,
    previous: CachedRecord | undefined,
  ): Promise<{ collector: RecordCollector; strategy: Strategy }> {
    const order = this.order(plan.caps);
    for (let i = 0; ; i++) {
      const strategy = order[i];
      const collector = new RecordCollector(plan.patientId, plan.bounds, plan.windowStart);
      if (previous) collector.seed(previous.resources, previous.lines);
      try {
        await STRATEGIES[strategy]({ client: this.client, plan, collector });
        return { collector, strategy };
      } catch (err) {
        if (i === order.length - 1 || !(err instanceof FhirHttpError) || !NOT_SUPPORTED.has(err.status)) throw err;
        if (err.status === 405 || err.status === 501) this.unsupported.add(strategy);
      }
    }
  }

  private order(caps: EhrCapabilities): Strategy[] {
    if (this.settings.strategy !== 'auto') return [this.settings.strategy];
    const candidates: Strategy[] = caps.known
      ? [...(caps.everything ? (['everything'] as const) : []), ...(caps.batch ? (['batch'] as const) : []), 'search']
      : ['everything', 'batch', 'search'];
    return candidates.filter((s) => s === 'search' || !this.unsupported.has(s));
  }
}

/**
 * One-off assembly without a cache (tests, the CLI); services use a long-lived RecordAssembler.
 * @param opts - models' requirements, as-of date, and optional strategy/page size/bound overrides
 */
export async function assembleRecord(
  client: FhirClient,
  patientId: string,
  opts: AssembleRequest & Partial<Omit<AssemblerSettings, 'cache'>>,
): Promise<PatientRecord> {
  const assembler = new RecordAssembler(client, {
    strategy: opts.strategy ?? 'auto',
    pageSize: opts.pageSize ?? DEFAULT_PAGE_SIZE,
    maxResources: opts.maxResources ?? DEFAULT_MAX_RESOURCES,
  });
  return assembler.assemble(patientId, opts);
}

function truncationReason(bounds: RecordBounds, dropped: number, incomplete: string | undefined): string | undefined {
  if (incomplete) return `record truncated: ${incomplete}`;
  if (dropped > 0) {
    return `record truncated: more than ${bounds.maxResources} resources; the oldest observations beyond the bound were left out`;
  }
  return undefined;
}

interface AssemblyFacts {
  strategy: Strategy;
  bounds: RecordBounds;
  windowStart?: string;
  incremental: boolean;
  reason?: string;
}

function buildRecord(patientId: string, resources: Resource[], hash: string, facts: AssemblyFacts): PatientRecord {
  const tag = (code: string, display: string): Coding => ({ system: ASSEMBLY_SYSTEM, code, display });
  const tags = [tag(facts.strategy, facts.bounds.types.join(','))];
  if (facts.windowStart) tags.push(tag('lookback', `time-series entries dated on or after ${facts.windowStart}`));
  if (facts.incremental) tags.push(tag('incremental', 'merged from a cached record and a _since refresh'));
  if (facts.reason) tags.push(tag('truncated', facts.reason));
  const bundle: Bundle = {
    resourceType: 'Bundle',
    type: 'collection',
    meta: { tag: tags },
    entry: resources.map((resource) => ({ fullUrl: `${resource.resourceType}/${resource.id}`, resource })),
  };
  const truncated = facts.reason !== undefined;
  return { patientId, bundle, hash, truncated, ...(truncated ? { truncatedReason: facts.reason } : {}) };
}
