import type { Resource } from '@medplum/fhirtypes';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FhirClient } from '../fhir/fhir-client.js';
import { FhirHttpError } from '../fhir/fhir-client.js';
import type { SourceRegistry } from '../fhir/source-client.js';
import type { ChangeEvent } from '../intake/change-event.js';
import { pollChanges } from '../intake/poll-changes.js';
import { isAiAsserted, OWN_OUTPUT_TYPES, patientIdOf } from '../intake/resource-facts.js';
import { type AssessQueue, enqueueAssessment } from './assess-queue.js';

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
}

export type EventOutcome =
  | { action: 'assess'; patientIds: string[] }
  | { action: 'ignored'; reason: 'own-output' | 'no-patient' | 'gone' };

/** Resolves one change event to the patient(s) it concerns and schedules their (coalesced) assessments. */
export async function processChangeEvent(deps: EventDeps, event: ChangeEvent): Promise<EventOutcome> {
  if (event.aiAsserted || (event.resourceType && OWN_OUTPUT_TYPES.has(event.resourceType))) {
    return { action: 'ignored', reason: 'own-output' }; // never let our own write-backs trigger us
  }
  const client = deps.sources.client(event.source);
  let patientIds: string[];
  if (event.interaction === 'ping') {
    const watermarkKey = `${deps.keyPrefix}:watermark:${event.source}`;
    patientIds = (await pollChanges(client, deps.redis, watermarkKey, deps.watchedTypes, deps.pollOverlapMs))
      .patientIds;
  } else if (event.patientId) {
    patientIds = [event.patientId];
  } else {
    const resolved = await resolvePatient(client, event);
    if (resolved === 'gone' || resolved === 'own-output') return { action: 'ignored', reason: resolved };
    if (!resolved) return { action: 'ignored', reason: 'no-patient' };
    patientIds = [resolved];
  }
  const trigger = event.resourceType ? `${event.resourceType}/${event.id}` : 'poll';
  for (const patientId of patientIds) {
    await enqueueAssessment(
      deps.assessQueue,
      { source: event.source, patientId, trigger, priority: 'live' },
      deps.coalesceWindowMs,
    );
  }
  return { action: 'assess', patientIds };
}

/** Reads the focus resource (id-only notifications) to learn which patient it belongs to. */
async function resolvePatient(
  client: FhirClient,
  event: ChangeEvent,
): Promise<string | undefined | 'gone' | 'own-output'> {
  if (!event.resourceType || !event.id) return undefined;
  if (event.resourceType === 'Patient') return event.id;
  if (event.interaction === 'delete') return undefined;
  try {
    const r = await client.read<Resource>(event.resourceType as Resource['resourceType'], event.id);
    return isAiAsserted(r) ? 'own-output' : patientIdOf(r);
  } catch (err) {
    if (err instanceof FhirHttpError && (err.status === 404 || err.status === 410)) return 'gone';
    throw err;
  }
}
