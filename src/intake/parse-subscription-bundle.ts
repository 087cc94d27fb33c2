import type { Bundle, BundleEntry, Parameters, ParametersParameter, Reference, Resource } from '@medplum/fhirtypes';
import type { BaseUrlGuard } from '../fhir/base-url-guard.js';
import { NotificationError, type NumberedEvent, type ParsedNotification } from './notification.js';
import { checkShape, ParametersShape, SubscriptionStatusShape } from './notification-shape.js';
import { eventFromResource, interactionOf, referenceOf } from './parse-classic.js';
import { subscriptionIdOf } from './subscription-ref.js';

type Event = ParsedNotification['events'][number];
const TYPES = new Set(['handshake', 'heartbeat', 'event-notification', 'query-status', 'query-event']);

/** The status part of a topic-based notification, whichever FHIR version shaped it. */
interface NotificationStatus {
  type: ParsedNotification['type'];
  status?: string;
  subscription?: string;
  eventsSinceStart?: number;
  events: { eventNumber?: number; timestamp?: string; focus?: Reference }[];
}

/**
 * Variants F (R4 Backport: Parameters first), G (R4B: SubscriptionStatus first) and
 * H (R5: `Bundle.type = subscription-notification`). Also parses `$status` and `$events` answers
 * (query-status, query-event), which have the same shape.
 */
export function parseSubscriptionBundle(bundle: Bundle, guard: BaseUrlGuard): ParsedNotification {
  const first = bundle.entry?.[0]?.resource;
  const variant =
    first?.resourceType === 'Parameters' ? 'r4-backport' : bundle.type === 'history' ? 'r4b-backport' : 'r5';
  const status = first?.resourceType === 'Parameters' ? fromParameters(first) : fromSubscriptionStatus(first);
  // A subscription on another server is refused like any foreign reference (we may call its $status).
  const subscriptionId = status.subscription ? subscriptionIdOf(status.subscription, guard) : undefined;
  const byUrl = new Map<string, BundleEntry>();
  for (const entry of bundle.entry?.slice(1) ?? []) {
    if (entry.fullUrl) byUrl.set(entry.fullUrl, entry);
  }
  const events: Event[] = [];
  for (const ev of status.events) {
    if (!ev.focus?.reference) continue; // content "empty": nothing named, the worker catches up by query
    const entry = byUrl.get(ev.focus.reference) ?? findByReference(bundle, ev.focus.reference);
    events.push(focusEvent(ev, entry, variant, status.subscription, guard));
  }
  if (status.type === 'event-notification' && status.events.length > 0 && events.length === 0) {
    // "empty" payload: we were told how many events happened but not what; poll for them.
    events.push({
      via: variant,
      interaction: 'ping',
      subscription: status.subscription,
      eventNumber: status.events.at(-1)?.eventNumber,
    });
  }
  const numbered: NumberedEvent[] = [];
  for (const e of status.events) {
    if (e.eventNumber !== undefined) numbered.push({ eventNumber: e.eventNumber, timestamp: e.timestamp });
  }
  return {
    variant,
    type: status.type,
    subscription: status.subscription,
    subscriptionId,
    status: status.status,
    eventsSinceStart: status.eventsSinceStart,
    numbered,
    events,
  };
}

function focusEvent(
  ev: NotificationStatus['events'][number],
  entry: BundleEntry | undefined,
  via: string,
  subscription: string | undefined,
  guard: BaseUrlGuard,
): Event {
  const common = { subscription, eventNumber: ev.eventNumber, occurredAt: ev.timestamp };
  const ref = referenceOf(ev.focus!.reference!, guard);
  if (entry?.resource)
    return { ...eventFromResource(entry.resource as Resource, interactionOf(entry), via), ...common };
  if (!ref) throw new NotificationError(400, 'notification-event focus is not a Type/id reference', 'structure');
  return { via, interaction: entry ? interactionOf(entry) : 'update', ...ref, ...common };
}

function findByReference(bundle: Bundle, reference: string): BundleEntry | undefined {
  const tail = reference.replace(/^.*?([A-Z][A-Za-z]+\/[^/]+)$/, '$1');
  return bundle.entry?.slice(1).find((e) => e.fullUrl?.endsWith(`/${tail}`) || e.request?.url === tail);
}

function fromParameters(raw: Resource): NotificationStatus {
  const p = checkShape<Parameters>(ParametersShape, raw, 'subscription status (Parameters)');
  const get = (name: string) => p.parameter?.find((x) => x.name === name);
  const events = (p.parameter ?? [])
    .filter((x) => x.name === 'notification-event')
    .map((x) => {
      const part = (n: string): ParametersParameter | undefined => x.part?.find((y) => y.name === n);
      return {
        eventNumber: toNumber(part('event-number')?.valueString ?? part('event-number')?.valueInteger),
        timestamp: toInstant(part('timestamp')?.valueInstant),
        focus: part('focus')?.valueReference,
      };
    });
  return {
    type: checkType(get('type')?.valueCode),
    status: get('status')?.valueCode,
    subscription: get('subscription')?.valueReference?.reference,
    eventsSinceStart: toNumber(
      get('events-since-subscription-start')?.valueString ?? get('events-since-subscription-start')?.valueInteger,
    ),
    events,
  };
}

/** R4B/R5 SubscriptionStatus; typed loosely because @medplum/fhirtypes is R4 (+ R5 extras). */
function fromSubscriptionStatus(r: Resource | undefined): NotificationStatus {
  if (r?.resourceType !== 'SubscriptionStatus') {
    throw new NotificationError(
      400,
      'subscription notification Bundle must start with Parameters (R4) or SubscriptionStatus (R4B/R5)',
      'structure',
    );
  }
  const s = checkShape<{
    type?: string;
    status?: string;
    subscription?: Reference;
    eventsSinceSubscriptionStart?: string | number;
    notificationEvent?: { eventNumber?: string | number; timestamp?: string; focus?: Reference }[];
  }>(SubscriptionStatusShape, r, 'SubscriptionStatus');
  return {
    type: checkType(s.type),
    status: s.status,
    subscription: s.subscription?.reference,
    eventsSinceStart: toNumber(s.eventsSinceSubscriptionStart),
    events: (s.notificationEvent ?? []).map((e) => ({
      eventNumber: toNumber(e.eventNumber),
      timestamp: toInstant(e.timestamp),
      focus: e.focus,
    })),
  };
}

function checkType(type: string | undefined): ParsedNotification['type'] {
  if (!type || !TYPES.has(type))
    throw new NotificationError(400, `unknown notification type '${String(type ?? '').slice(0, 40)}'`, 'structure');
  return type as ParsedNotification['type'];
}

/** Event numbers are strings in R4/R4B (integer64 in R5): digits only, at most 2^53 - 1. */
function toNumber(v: string | number | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : /^\d{1,16}$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 0)
    throw new NotificationError(400, 'event number is not a non-negative integer below 2^53', 'structure');
  return n;
}

/** A FHIR instant (`2020-05-29T11:44:13.188-05:00`), normalised to UTC; 400 when it is not one. */
function toInstant(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms)) throw new NotificationError(400, 'notification-event timestamp is not an instant', 'structure');
  return CANONICAL_UTC.test(v) ? v : new Date(ms).toISOString();
}

/** An instant already in `toISOString()` form (most servers send this): kept as it is. */
const CANONICAL_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
