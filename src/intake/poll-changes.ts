import type { Resource } from '@medplum/fhirtypes';
import type { Redis } from 'ioredis';
import type { FhirClient } from '../fhir/fhir-client.js';
import { isOwnOutput } from '../record/record-hash.js';
import { patientIdOf } from './resource-facts.js';

export interface PollResult {
  patientIds: string[];
  resourcesSeen: number;
  watermark: string;
}

/**
 * Asks the EHR what changed since the last watermark, per resource type
 * (`_lastUpdated=gt{watermark}&_sort=_lastUpdated`, every page), and returns the patients concerned.
 * Used for empty-body notifications ("something changed") and by the polling fallback.
 */
export async function pollChanges(
  client: FhirClient,
  redis: Redis,
  watermarkKey: string,
  resourceTypes: string[],
  /** Subtracted from the watermark so clock skew between us and the EHR loses nothing. */
  overlapMs: number,
): Promise<PollResult> {
  const stored = await redis.get(watermarkKey);
  const since = stored ? new Date(Date.parse(stored) - overlapMs) : new Date(Date.now() - 24 * 3600_000);
  let newest = stored ?? since.toISOString();
  const patients = new Set<string>();
  let seen = 0;
  for (const type of resourceTypes) {
    const query = { _lastUpdated: `gt${since.toISOString()}`, _sort: '_lastUpdated', _count: '100' };
    for (const r of await client.searchAll<Resource>(type, query)) {
      seen++;
      const updated = r.meta?.lastUpdated;
      if (updated && updated > newest) newest = updated;
      if (isOwnOutput(r)) continue;
      const pid = patientIdOf(r);
      if (pid) patients.add(pid);
    }
  }
  // Only move forward: a concurrent poll that saw newer data must not be rolled back.
  await redis.eval(
    "local cur = redis.call('GET', KEYS[1]); if (not cur) or cur < ARGV[1] then redis.call('SET', KEYS[1], ARGV[1]) end",
    1,
    watermarkKey,
    newest,
  );
  return { patientIds: [...patients], resourcesSeen: seen, watermark: newest };
}
