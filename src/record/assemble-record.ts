import type { Bundle, Coding, Resource } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import { type EhrCapabilities, UNKNOWN_CAPABILITIES } from '../fhir/capabilities.js';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { DataRequirement, PatientRecord } from '../models/model.js';
import { boundsFor, DEFAULT_MAX_RESOURCES, lookbackStart, type RecordBounds } from './record-bounds.js';
import type { CachedRecord, RecordCache } from './record-cache.js';
import { RecordCollector } from './record-collector.js';
import { STRATEGIES, type Strategy } from './strategies.js';
import { refusalOf, UnusableAnswerError } from './strategy-refusal.js';
import type { SearchPlan } from './type-searches.js';

export type { Strategy } from './strategies.js';

/** Code system of the `meta.tag`s that describe how a record was assembled. */
export const ASSEMBLY_SYSTEM = 'http://fhir-assess.dev/CodeSystem/assembly';

export interface AssemblerSettings {
  /**
   * `auto` picks from the CapabilityStatement; the others force where to start. Either way a strategy
   * the EHR refuses as unsupported falls back along everything -> batch -> search.
   */
  strategy: 'auto' | Strategy;
  /** The source's name, for the log line that reports a refused strategy. */
  source?: string;
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
  /** Where a refused strategy is reported (once per assembler, i.e. per source and process). */
  logger?: Pick<Logger, 'warn'>;
}

/** Default `_count`: 500 resources per page. */
export const DEFAULT_PAGE_SIZE = 500;
const DEFAULT_SINCE_OVERLAP_MS = 60_000;
/** Cheapest first: the order in which strategies are tried, and fallen back along. */
const FALLBACK_ORDER: readonly Strategy[] = ['everything', 'batch', 'search'];

/**
 * Reads patients' longitudinal records from one EHR, cheapest way first: `Patient/$everything`, else
 * one `batch` of per-type searches, else concurrent searches. A strategy the EHR refuses as
 * unsupported (see refusalOf), once a later one has read the record, is remembered for the life of
 * the process (later assessments go straight to the working one) and reported once in a warn line.
 */
export class RecordAssembler {
  /** Strategies this EHR refused, with its answer. */
  private readonly refused = new Map<Strategy, string>();

  constructor(
    readonly client: FhirClient,
    readonly settings: AssemblerSettings,
  ) {}

  async assemble(patientId: string, req: AssembleRequest): Promise<PatientRecord> {
    const bounds = boundsFor(req.requires, this.settings.maxResources);
    const windowStart = lookbackStart(bounds, req.asOf ?? new Date());
    const caps = await this.client.capabilities().catch(() => UNKNOWN_CAPABILITIES);
    const cacheKey = `${patientId}|${bounds.types.join(',')}|${bounds.observationCategories ?? ''}`;
    const hit = this.settings.cache?.lookup(cacheKey);
    const cached = req.fullRead || !hit?.fresh ? undefined : hit.record;
    const readAt = new Date().toISOString();
    const overlap = this.settings.sinceOverlapMs ?? DEFAULT_SINCE_OVERLAP_MS;
    const since = cached ? new Date(Date.parse(cached.readAt) - overlap).toISOString() : undefined;
    const plan: SearchPlan = { patientId, bounds, caps, pageSize: this.settings.pageSize, windowStart, since };
    const { collector, strategy } = await this.read(plan, cached, hit?.record, req.logger);
    const { resources, dropped } = collector.resources();
    const reason = truncationReason(bounds, dropped, collector.incomplete);
    if (this.settings.cache && !reason) this.settings.cache.set(cacheKey, collector.toCached(readAt));
    else this.settings.cache?.delete(cacheKey);
    const facts = { strategy, bounds, windowStart, incremental: !!since, reason };
    return buildRecord(patientId, resources, collector.hashOf(resources), facts);
  }

  /** The strategies this EHR refused so far (strategy -> the EHR's answer). */
  get refusedStrategies(): ReadonlyMap<Strategy, string> {
    return this.refused;
  }

  /**
   * Runs the strategies in order until one completes; only refusals (see refusalOf) move on, and
   * they are remembered once the next strategy has read the record.
   */
  private async read(
    plan: SearchPlan,
    previous: CachedRecord | undefined,
    known: CachedRecord | undefined,
    logger: AssembleRequest['logger'],
  ): Promise<{ collector: RecordCollector; strategy: Strategy }> {
    const order = this.order(plan.caps);
    const refusals: { strategy: Strategy; reason: string }[] = [];
    for (const [i, strategy] of order.entries()) {
      const collector = new RecordCollector(plan.patientId, plan.bounds, plan.windowStart, known);
      if (previous) collector.seed(previous);
      try {
        await STRATEGIES[strategy]({ client: this.client, plan, collector });
        if (!collector.patient)
          throw new UnusableAnswerError(`the EHR returned no Patient/${plan.patientId} (strategy ${strategy})`);
        for (const r of refusals) this.remember(r.strategy, r.reason, strategy, logger);
        return { collector, strategy };
      } catch (err) {
        const reason = refusalOf(err);
        if (reason === undefined || i === order.length - 1) throw err;
        refusals.push({ strategy, reason });
      }
    }
    throw new Error('no record strategy to try'); // unreachable: the order always ends with search
  }

  private remember(strategy: Strategy, reason: string, using: Strategy, logger: AssembleRequest['logger']): void {
    if (this.refused.has(strategy)) return; // a concurrent assessment got there first: one line per source
    this.refused.set(strategy, reason);
    const source = this.settings.source ?? 'ehr';
    const forced = this.settings.strategy === strategy;
    logger?.warn(
      { source, strategy, ehrAnswer: reason, using, setting: 'recordStrategy' },
      `source '${source}' refused record strategy '${strategy}'${forced ? ' (forced by recordStrategy)' : ''} ` +
        `(${reason}); using '${using}' from now on in this process. To skip the attempt after a restart, ` +
        `set recordStrategy "${using}" for this source in SOURCES_FILE (or RECORD_STRATEGY=${using})`,
    );
  }

  /**
   * `auto`: the strategies the CapabilityStatement advertises (all when it is unknown); a forced
   * strategy first, then those after it. Strategies refused earlier are left out; search always stays.
   */
  private order(caps: EhrCapabilities): Strategy[] {
    const forced = this.settings.strategy === 'auto' ? undefined : this.settings.strategy;
    const advertised = (s: Strategy) =>
      s === 'search' || !caps.known || (s === 'everything' ? caps.everything : caps.batch);
    return FALLBACK_ORDER.slice(forced ? FALLBACK_ORDER.indexOf(forced) : 0).filter(
      (s) => (s === forced || advertised(s)) && !this.refused.has(s),
    );
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
