import type { Resource } from '@medplum/fhirtypes';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FhirClient } from '../fhir/fhir-client.js';
import { FhirHttpError } from '../fhir/fhir-client.js';
import type { SourceRegistry } from '../fhir/source-client.js';
import type { ChangeEvent } from '../intake/change-event.js';
import { isAiAsserted, OWN_OUTPUT_TYPES, patientIdOf } from '../intake/resource-facts.js';
import { VersionGate } from '../intake/version-gate.js';
import { type AssessQueue, enqueueAssessment } from './assess-queue.js';
import { pollSinceWatermark } from './catch-up.js';
import { trackStoredEvent } from './track-subscription.js';

export interface EventDeps {
  sources: SourceRegistry;
  redis: Redis;
  assessQueue: AssessQueue;
  coalesceWindowMs: number;
  /** Types polled when a notification only said "something changed". */
  watchedTypes: string[];
  pollOverlapMs: number;
  keyPrefix: string;
  logger: Logger;
  /** Grace before a gap in a subscription's event numbers is recovered (GAP_GRACE_MS). */
  gapGraceMs?: number;
}

export type EventOutcome =
  | { action: 'assess'; patientIds: string[] }
  | { action: 'ignored'; reason: 'own-output' | 'no-patient' | 'gone' | 'duplicate' | 'stale' };

/** The version facts an event is judged by: from the notification, or from reading the resource. */
interface Resolved {
  patientId: string;
  versionId?: string;
  lastUpdated?: string;
}

/**
 * Records the event's number in its subscription's ledger, then resolves the event to the patient it
 * concerns and schedules that patient's (coalesced) assessment. Our own outputs are ignored (no
 * feedback loop); a version already processed, or older than one already processed, is dropped; an
 * empty "something changed" ping catches up by query.
 */
export async function processChangeEvent(deps: EventDeps, event: ChangeEvent): Promise<EventOutcome> {
  await trackStoredEvent(deps, event); // first: our own outputs' event numbers count too
  if (event.aiAsserted || (event.resourceType && OWN_OUTPUT_TYPES.has(event.resourceType))) {
    return { action: 'ignored', reason: 'own-output' };
  }
  if (event.interaction === 'ping') {
    return { action: 'assess', patientIds: (await pollSinceWatermark(deps, event.source, event.via)).patientIds };
  }
  let resolved: Resolved | 'gone' | 'own-output' | undefined;
  if (event.patientId) {
    resolved = { patientId: event.patientId, versionId: event.versionId, lastUpdated: event.lastUpdated };
  } else {
    resolved = await readFocus(deps.sources.client(event.source), event);
  }
  if (resolved === 'gone' || resolved === 'own-output') return { action: 'ignored', reason: resolved };
  if (!resolved) return { action: 'ignored', reason: 'no-patient' };
  const gate = new VersionGate(deps.redis, deps.keyPrefix);
  const { versionId, lastUpdated } = resolved;
  const resourceType = event.resourceType!;
  const id = event.id!;
  if (versionId) {
    const verdict = await gate.check(event.source, resourceType, id, versionId, lastUpdated);
    if (verdict !== 'newer') return { action: 'ignored', reason: verdict === 'same' ? 'duplicate' : 'stale' };
  }
  await enqueueAssessment(
    deps.assessQueue,
    { source: event.source, patientId: resolved.patientId, trigger: `${resourceType}/${id}`, priority: 'live' },
    deps.coalesceWindowMs,
  );
  // Only after the assessment is scheduled: a retry of a job that failed above is not a "duplicate".
  if (versionId) await gate.commit(event.source, resourceType, id, versionId, lastUpdated);
  return { action: 'assess', patientIds: [resolved.patientId] };
}

/** Reads the focus resource (id-only notifications) to learn its patient and current version. */
async function readFocus(
  client: FhirClient,
  event: ChangeEvent,
): Promise<Resolved | 'gone' | 'own-output' | undefined> {
  if (!event.resourceType || !event.id) return undefined;
  if (event.interaction === 'delete') return undefined; // nothing left to read; a deleted patient is not assessed
  try {
    const r = await client.read<Resource>(event.resourceType as Resource['resourceType'], event.id);
    if (isAiAsserted(r)) return 'own-output';
    const patientId = patientIdOf(r);
    return patientId ? { patientId, versionId: r.meta?.versionId, lastUpdated: r.meta?.lastUpdated } : undefined;
  } catch (err) {
    if (err instanceof FhirHttpError && (err.status === 404 || err.status === 410)) return 'gone';
    throw err;
  }
}
