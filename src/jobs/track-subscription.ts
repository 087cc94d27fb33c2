import type { SourceRegistry } from '../fhir/source-client.js';
import type { ChangeEvent } from '../intake/change-event.js';
import { EventLedger, type LedgerUpdate } from '../intake/event-ledger.js';
import type { ParsedNotification } from '../intake/notification.js';
import { subscriptionIdOf } from '../intake/subscription-ref.js';
import { cancelGapRecovery, scheduleGapRecovery, sharedIntakeQueue } from './intake-queue.js';
import type { RedisClient } from './redis-connection.js';

/** Grace before a gap in event numbers is recovered when none is configured (ms). */
export const DEFAULT_GAP_GRACE_MS = 5_000;

export interface TrackDeps {
  redis: RedisClient;
  keyPrefix: string;
  /** GAP_GRACE_MS. */
  gapGraceMs?: number;
}

/**
 * Records what a notification (or one stored event of it) says about its subscription in the event
 * ledger: a new gap gets a recovery job delayed by the grace period; a gap that late arrivals have
 * filled gets its pending recovery cancelled.
 */
export async function trackSubscription(
  deps: TrackDeps,
  source: string,
  subscriptionId: string,
  what: Pick<ParsedNotification, 'type' | 'numbered' | 'eventsSinceStart'>,
): Promise<LedgerUpdate> {
  const update = await new EventLedger(deps.redis, deps.keyPrefix).record(source, subscriptionId, what);
  if (!update.opened.length && !update.closed.length) return update;
  const queue = sharedIntakeQueue(deps.redis, deps.keyPrefix);
  const grace = deps.gapGraceMs ?? DEFAULT_GAP_GRACE_MS;
  for (const gap of update.opened) await scheduleGapRecovery(queue, source, subscriptionId, gap, grace);
  for (const c of update.closed) await cancelGapRecovery(queue, source, subscriptionId, c.from, c.until);
  return update;
}

/**
 * Whether the notify route must update the ledger itself before answering. Not when every event number
 * travels inside a stored event (focus events of an event-notification): the events worker records
 * those, so the request makes one Redis call, like a bare enqueue. Yes for handshakes, heartbeats and
 * status answers (no events), for `empty` content (numbers without a focus) and when
 * `events-since-subscription-start` counts more than the events carried.
 */
export function ledgerInRequest(parsed: ParsedNotification, events: ChangeEvent[]): boolean {
  if (!parsed.subscriptionId) return false;
  if (parsed.type !== 'event-notification' || events.length === 0) return true;
  const carried = new Set(events.filter((e) => e.interaction !== 'ping').map((e) => e.eventNumber));
  const numbers = (parsed.numbered ?? []).map((n) => n.eventNumber);
  if (numbers.some((n) => !carried.has(n))) return true;
  return parsed.eventsSinceStart !== undefined && parsed.eventsSinceStart > Math.max(0, ...numbers);
}

/**
 * Events-worker side: records the event number a stored event carries (and that its subscription was
 * heard from). Runs for every event with a subscription, our own outputs included: their numbers count.
 */
export async function trackStoredEvent(
  deps: TrackDeps & { sources: SourceRegistry },
  event: ChangeEvent,
): Promise<void> {
  if (!event.subscription || event.interaction === 'ping') return; // pings were recorded by the request
  let subscriptionId: string;
  try {
    subscriptionId = subscriptionIdOf(event.subscription, deps.sources.client(event.source).guard);
  } catch {
    return; // intake refused such references; an old job must not fail over bookkeeping
  }
  const numbered =
    event.eventNumber === undefined ? [] : [{ eventNumber: event.eventNumber, timestamp: event.occurredAt }];
  await trackSubscription(deps, event.source, subscriptionId, { type: 'event-notification', numbered });
}
