import type { Bundle } from '@medplum/fhirtypes';
import { FhirHttpError } from '../fhir/fhir-client.js';
import { supportsEventsOperation } from '../intake/ehr-capabilities.js';
import { EventLedger } from '../intake/event-ledger.js';
import { NotificationError } from '../intake/notification.js';
import { parseSubscriptionBundle } from '../intake/parse-subscription-bundle.js';
import { toChangeEvents } from '../intake/validate-events.js';
import { catchUpWindow } from './catch-up.js';
import type { GapJob } from './intake-queue.js';
import { type EventDeps, processChangeEvent } from './process-change-event.js';

/** What a gap recovery did. */
export interface RecoveryOutcome {
  /** `filled`: every missing event arrived late; nothing to do. */
  action: 'filled' | 'recovered';
  /** Event numbers replayed through `$events`. */
  viaEvents: number[];
  /** Whether a `_lastUpdated` search over the gap's time window was needed. */
  viaSearch: boolean;
  patientIds: string[];
}

/** EHR answers that mean "no `$events` here" (HAPI, servers without the operation or without retention). */
const NO_EVENTS_OPERATION = new Set([400, 404, 405, 422, 501]);

/**
 * Recovers the events of a gap: replays them with `$events` when the EHR offers it, and searches
 * `_lastUpdated` over the gap's time window for whatever `$events` did not return (or when it does not
 * exist). Every recovered change takes the normal event path (own outputs ignored, duplicates dropped).
 */
export async function recoverGap(deps: EventDeps, job: GapJob): Promise<RecoveryOutcome> {
  const ledger = new EventLedger(deps.redis, deps.keyPrefix);
  const missing = job.tracked ? await ledger.missing(job.source, job.subscriptionId, job.from, job.until) : undefined;
  if (missing && missing.length === 0) {
    await ledger.resolve(job.source, job.subscriptionId, job.from, job.until);
    return { action: 'filled', viaEvents: [], viaSearch: false, patientIds: [] };
  }
  const lo = missing ? Math.min(...missing) : job.from;
  const hi = missing ? Math.max(...missing) : job.until;
  const patients = new Set<string>();
  const replayed = await replayEvents(deps, job, lo, hi, patients);
  // Untracked (huge) gaps always search too: no EHR retains that many events.
  const viaSearch = replayed === undefined || !missing || missing.some((n) => !replayed.has(n));
  if (viaSearch) {
    const overlap = deps.pollOverlapMs;
    const start = Math.min(job.fromAt, job.untilAt) - overlap;
    const end = Math.min(Math.max(job.fromAt, job.untilAt) + overlap, Date.now() + overlap);
    const r = await catchUpWindow(deps, job.source, { from: new Date(start), until: new Date(end) }, 'recovery-search');
    for (const p of r.patientIds) patients.add(p);
  }
  await ledger.resolve(job.source, job.subscriptionId, job.from, job.until);
  deps.logger.info(
    { source: job.source, subscription: job.subscriptionId, from: job.from, until: job.until, viaSearch },
    'missed events recovered',
  );
  return {
    action: 'recovered',
    viaEvents: [...(replayed ?? [])].sort((a, b) => a - b),
    viaSearch,
    patientIds: [...patients],
  };
}

/**
 * `GET Subscription/{id}/$events?eventsSinceNumber&eventsUntilNumber&content=id-only`: the event numbers
 * that came back with a focus (and were scheduled), or undefined when the EHR has no such operation.
 */
async function replayEvents(
  deps: EventDeps,
  job: GapJob,
  lo: number,
  hi: number,
  patients: Set<string>,
): Promise<Set<number> | undefined> {
  const client = deps.sources.client(job.source);
  if ((await supportsEventsOperation(client)) === false) return undefined;
  let bundle: Bundle;
  try {
    bundle = await client.get<Bundle>(`Subscription/${job.subscriptionId}/$events`, {
      eventsSinceNumber: String(lo),
      eventsUntilNumber: String(hi),
      content: 'id-only',
    });
  } catch (err) {
    if (err instanceof FhirHttpError && NO_EVENTS_OPERATION.has(err.status)) return undefined;
    throw err;
  }
  let events: ReturnType<typeof toChangeEvents>;
  try {
    events = toChangeEvents(job.source, parseSubscriptionBundle(bundle, client.guard).events);
  } catch (err) {
    if (err instanceof NotificationError) return undefined; // an answer we cannot read: search instead
    throw err;
  }
  const replayed = new Set<number>();
  for (const event of events) {
    if (event.eventNumber === undefined || event.interaction === 'ping') continue;
    const outcome = await processChangeEvent(deps, { ...event, via: 'recovery-events' });
    if (outcome.action === 'assess') for (const p of outcome.patientIds) patients.add(p);
    replayed.add(event.eventNumber);
  }
  return replayed;
}
