import type { Resource } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import { isOwnOutput } from '../record/record-hash.js';
import { type ChangeEvent, ChangeEventSchema } from './change-event.js';
import { patientIdOf } from './resource-facts.js';

/** Page size asked of the EHR per `_lastUpdated` search. */
const PAGE_SIZE = 100;
/** Most resources one catch-up reads; the watermark then resumes from the newest one seen. */
export const MAX_RESOURCES_PER_POLL = 20_000;
/** How far back the very first poll of a source looks when no watermark exists yet: 24 h. */
const FIRST_POLL_LOOKBACK_MS = 24 * 3600_000;

/** A change found by searching: references only, like a notification's event. */
export type ChangeFact = Omit<ChangeEvent, 'source'>;

export interface ChangeWindow {
  from: Date;
  /** Open-ended when absent (polls); recovery of a gap bounds it. */
  until?: Date;
}

export interface CatchUpResult {
  resourcesSeen: number;
  /** Newest `meta.lastUpdated` seen (ISO), for the watermark. */
  newest?: string;
  truncated: boolean;
}

/**
 * Searches every watched type for resources changed in the window
 * (`_lastUpdated=ge{from}[&_lastUpdated=le{until}]&_sort=_lastUpdated`, every page), and hands each
 * page's facts to `onFacts`. Our own outputs and resources outside any patient are skipped; ids the
 * queue could not store are skipped too (they could never be assessed).
 */
export async function forEachChange(
  client: FhirClient,
  resourceTypes: string[],
  window: ChangeWindow,
  via: string,
  onFacts: (facts: ChangeFact[]) => Promise<void>,
): Promise<CatchUpResult> {
  let seen = 0;
  let newestMs = Number.NEGATIVE_INFINITY;
  for (const type of resourceTypes) {
    const params = new URLSearchParams([['_lastUpdated', `ge${window.from.toISOString()}`]]);
    if (window.until) params.append('_lastUpdated', `le${window.until.toISOString()}`);
    params.append('_sort', '_lastUpdated');
    params.append('_count', String(PAGE_SIZE));
    for await (const page of client.pages(`${type}?${params}`)) {
      const facts: ChangeFact[] = [];
      for (const e of page.entry ?? []) {
        if (!e.resource || e.search?.mode === 'outcome') continue;
        seen++;
        const updated = Date.parse(e.resource.meta?.lastUpdated ?? '');
        if (updated > newestMs) newestMs = updated;
        const fact = factOf(e.resource, via);
        if (fact) facts.push(fact);
      }
      if (facts.length) await onFacts(facts);
      if (seen >= MAX_RESOURCES_PER_POLL) return result(seen, newestMs, true);
    }
  }
  return result(seen, newestMs, false);
}

function result(seen: number, newestMs: number, truncated: boolean): CatchUpResult {
  return {
    resourcesSeen: seen,
    newest: Number.isFinite(newestMs) ? new Date(newestMs).toISOString() : undefined,
    truncated,
  };
}

function factOf(r: Resource, via: string): ChangeFact | undefined {
  if (isOwnOutput(r)) return undefined;
  const patientId = patientIdOf(r);
  if (!patientId) return undefined;
  const fact = {
    via,
    interaction: 'update' as const,
    resourceType: r.resourceType,
    id: r.id,
    versionId: r.meta?.versionId,
    lastUpdated: r.meta?.lastUpdated,
    patientId,
  };
  return ChangeEventSchema.omit({ source: true }).safeParse(fact).success ? fact : undefined;
}

/** Where the next poll starts: the stored watermark minus the clock-skew overlap. */
export async function pollStart(
  redis: RedisClient,
  watermarkKey: string,
  overlapMs: number,
  now = Date.now(),
): Promise<Date> {
  const stored = await redis.get(watermarkKey);
  const ms = stored ? Date.parse(stored) : Number.NaN;
  return Number.isNaN(ms) ? new Date(now - FIRST_POLL_LOOKBACK_MS) : new Date(ms - overlapMs);
}

/** Moves the watermark forward only: a concurrent poll that saw newer data must not be rolled back. */
export async function advanceWatermark(
  redis: RedisClient,
  watermarkKey: string,
  newest: string | undefined,
): Promise<void> {
  if (!newest) return;
  await redis.eval(
    "local cur = redis.call('GET', KEYS[1]); if (not cur) or cur < ARGV[1] then redis.call('SET', KEYS[1], ARGV[1]) end",
    1,
    watermarkKey,
    newest,
  );
}
