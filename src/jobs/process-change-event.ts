import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { FhirClient } from '../fhir/fhir-client.js';
import { FhirHttpError } from '../fhir/fhir-client.js';
import type { SourceRegistry } from '../fhir/source-client.js';
import { REVIEWABLE_TYPES, type ReviewEventOutcome } from '../governance/reviews/ehr-review.js';
import type { ChangeEvent } from '../intake/change-event.js';
import { patientOfResource, rememberPatientOf } from '../intake/patient-of-resource.js';
import { isAiAsserted, OWN_OUTPUT_TYPES, patientIdOf } from '../intake/resource-facts.js';
import { VersionGate } from '../intake/version-gate.js';
import { type AssessQueue, type CoalesceMode, enqueueAssessment } from './assess-queue.js';
import { pollSinceWatermark } from './catch-up.js';
import { requireFullRead } from './record-full-read.js';
import type { RedisClient } from './redis-connection.js';
import { trackStoredEvent } from './track-subscription.js';

export interface EventDeps {
  sources: SourceRegistry;
  redis: RedisClient;
  assessQueue: AssessQueue;
  coalesceWindowMs: number;
  /** COALESCE_MODE (default `leading`). */
  coalesceMode?: CoalesceMode;
  /** Types polled when a notification only said "something changed". */
  watchedTypes: string[];
  pollOverlapMs: number;
  keyPrefix: string;
  logger: Logger;
  /** Grace before a gap in a subscription's event numbers is recovered (GAP_GRACE_MS). */
  gapGraceMs?: number;
  /** Clinician decisions made in the EHR on our outputs (governance; absent without a database). */
  reviews?: (event: ChangeEvent) => Promise<ReviewEventOutcome>;
}

/** Where an event's patient came from: the notification, reading the resource, or (deletes) index / history. */
export type PatientSource = 'notification' | 'read' | 'index' | 'history';

export type EventOutcome =
  | { action: 'assess'; patientIds: string[]; patientFrom?: PatientSource }
  | Extract<ReviewEventOutcome, { action: 'review' }>
  | { action: 'ignored'; reason: 'own-output' | 'no-patient' | 'gone' | 'duplicate' | 'stale' };

/** The version facts an event is judged by: from the notification, or from reading the resource. */
interface Resolved {
  patientId: string;
  from: PatientSource;
  versionId?: string;
  lastUpdated?: string;
}

/**
 * Records the event's number in its subscription's ledger, then resolves the event to the patient it
 * concerns and schedules that patient's (coalesced) assessment. Our own outputs are ignored (no
 * feedback loop); a version already processed, or older than one already processed, is dropped; an
 * empty "something changed" ping catches up by query; a delete reassesses the patient the deleted
 * resource belonged to, from a full read of the record.
 */
export async function processChangeEvent(deps: EventDeps, event: ChangeEvent): Promise<EventOutcome> {
  await trackStoredEvent(deps, event); // first: our own outputs' event numbers count too
  // A change to our RiskAssessment/ClinicalImpression may be a clinician's review; it never assesses.
  if (deps.reviews && event.resourceType && REVIEWABLE_TYPES.has(event.resourceType)) return deps.reviews(event);
  if (event.aiAsserted || (event.resourceType && OWN_OUTPUT_TYPES.has(event.resourceType))) {
    return { action: 'ignored', reason: 'own-output' };
  }
  if (event.interaction === 'ping') {
    return { action: 'assess', patientIds: (await pollSinceWatermark(deps, event.source, event.via)).patientIds };
  }
  if (!event.resourceType || !event.id) return { action: 'ignored', reason: 'no-patient' };
  const resource = { resourceType: event.resourceType, id: event.id };
  const deleted = event.interaction === 'delete';
  if (deleted && resource.resourceType === 'Patient') return { action: 'ignored', reason: 'gone' }; // nobody to assess
  let resolved: Resolved | 'gone' | 'own-output' | undefined;
  if (event.patientId) {
    resolved = {
      patientId: event.patientId,
      from: 'notification',
      versionId: event.versionId,
      lastUpdated: event.lastUpdated,
    };
  } else if (deleted) {
    resolved = await patientOfDeleted(deps, event.source, resource);
  } else {
    resolved = await readFocus(deps.sources.client(event.source), event);
  }
  if (resolved === 'gone' || resolved === 'own-output') return { action: 'ignored', reason: resolved };
  if (!resolved) {
    if (deleted)
      deps.logger.info(
        { source: event.source, ref: `${resource.resourceType}/${resource.id}` },
        'deleted resource: its patient is unknown (not seen before, no readable history); nobody reassessed',
      );
    return { action: 'ignored', reason: 'no-patient' };
  }
  const gate = new VersionGate(deps.redis, deps.keyPrefix);
  const { lastUpdated, patientId } = resolved;
  // A delete is never dropped as a duplicate or stale version (a sender may name the deleted version
  // itself); a repeated one costs one assessment that finds the record unchanged.
  const versionId = deleted ? undefined : resolved.versionId;
  const { resourceType, id } = resource;
  if (versionId) {
    const verdict = await gate.check(event.source, resourceType, id, versionId, lastUpdated);
    if (verdict !== 'newer') return { action: 'ignored', reason: verdict === 'same' ? 'duplicate' : 'stale' };
  }
  // Before scheduling: the assessment must find the marker, whichever worker runs it.
  if (deleted) await requireFullRead(deps.redis, deps.keyPrefix, event.source, patientId, cacheTtlMs(deps, event));
  await Promise.all([
    enqueueAssessment(
      deps.assessQueue,
      { source: event.source, patientId, trigger: `${resourceType}/${id}`, priority: 'live' },
      deps.coalesceWindowMs,
      deps.coalesceMode === 'trailing' ? undefined : { redis: deps.redis },
    ),
    // Remembered for a later delete, whose resource can no longer be read.
    deleted || resourceType === 'Patient'
      ? undefined
      : rememberPatientOf(deps.redis, deps.keyPrefix, event.source, resource, patientId),
  ]);
  // Only after the assessment is scheduled: a retry of a job that failed above is not a "duplicate".
  if (versionId) await gate.commit(event.source, resourceType, id, versionId, lastUpdated);
  return { action: 'assess', patientIds: [patientId], patientFrom: resolved.from };
}

function cacheTtlMs(deps: EventDeps, event: ChangeEvent): number {
  return deps.sources.get(event.source).source.record?.cacheTtlMs ?? 0;
}

/** Reads the focus resource (id-only notifications) to learn its patient and current version. */
async function readFocus(
  client: FhirClient,
  event: ChangeEvent,
): Promise<Resolved | 'gone' | 'own-output' | undefined> {
  try {
    const r = await client.read<Resource>(event.resourceType as Resource['resourceType'], event.id!);
    if (isAiAsserted(r)) return 'own-output';
    const patientId = patientIdOf(r);
    return patientId
      ? { patientId, from: 'read', versionId: r.meta?.versionId, lastUpdated: r.meta?.lastUpdated }
      : undefined;
  } catch (err) {
    if (err instanceof FhirHttpError && (err.status === 404 || err.status === 410)) return 'gone';
    throw err;
  }
}

/** Answers meaning "no history to read here": the delete's patient stays unknown. */
const NO_HISTORY = new Set([400, 403, 404, 405, 410, 422, 501]);

/**
 * The patient of a deleted resource, which can no longer be read: from the events seen before (the
 * resource -> patient index), else from the newest version in its history that still has a body
 * (`GET {Type}/{id}/_history`: HAPI and Medplum keep a deleted resource's versions).
 */
async function patientOfDeleted(
  deps: EventDeps,
  source: string,
  resource: { resourceType: string; id: string },
): Promise<Resolved | 'own-output' | undefined> {
  const remembered = await patientOfResource(deps.redis, deps.keyPrefix, source, resource);
  if (remembered) return { patientId: remembered, from: 'index' };
  if (/^\.+$/.test(resource.id)) return undefined; // a valid FHIR id, but `..` would address another path
  let history: Bundle;
  try {
    history = await deps.sources
      .client(source)
      .get<Bundle>(`${resource.resourceType}/${encodeURIComponent(resource.id)}/_history`, { _count: '10' });
  } catch (err) {
    if (err instanceof FhirHttpError && NO_HISTORY.has(err.status)) return undefined;
    throw err;
  }
  const newest = newestVersion(history, resource);
  if (!newest) return undefined;
  if (isAiAsserted(newest)) return 'own-output';
  const patientId = patientIdOf(newest);
  return patientId ? { patientId, from: 'history' } : undefined;
}

/** The newest version with a body (delete entries have none): by `meta.lastUpdated`, else the first listed. */
function newestVersion(history: Bundle, resource: { resourceType: string; id: string }): Resource | undefined {
  // Servers list history newest first; lastUpdated decides when they do not (a missing one never wins).
  const at = (r: Resource) => Date.parse(r.meta?.lastUpdated ?? '') || Number.NEGATIVE_INFINITY;
  let best: Resource | undefined;
  for (const entry of history.entry ?? []) {
    const r = entry.resource;
    if (r?.resourceType !== resource.resourceType || r.id !== resource.id) continue;
    if (!best || at(r) > at(best)) best = r;
  }
  return best;
}
