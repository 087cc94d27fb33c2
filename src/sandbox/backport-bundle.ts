import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Parameters, ParametersParameter, Resource, Subscription } from '@medplum/fhirtypes';
import { BackportUrl } from './constants.js';
import type { WriteInteraction } from './indexed-repository.js';
import type { PayloadContent } from './subscription-model.js';

/** Notification types of the Backport IG. */
export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

/** One retained topic event. `resource` is the stored version (absent for deletes). */
export interface TopicEvent {
  eventNumber: number;
  timestamp: string;
  interaction: WriteInteraction;
  resourceType: string;
  id: string;
  resource?: Resource;
}

/** Inputs of a notification Bundle. */
export interface NotificationInput {
  baseUrl: string;
  subscriptionId: string;
  topic: string;
  status: NonNullable<Subscription['status']>;
  type: NotificationType;
  /** Value of `events-since-subscription-start` (not incremented by handshakes/heartbeats). */
  eventsSinceStart: number;
  events: readonly TopicEvent[];
  content: PayloadContent;
}

const METHOD: Record<WriteInteraction, 'POST' | 'PUT' | 'DELETE'> = { create: 'POST', update: 'PUT', delete: 'DELETE' };
const RESPONSE_STATUS: Record<WriteInteraction, string> = { create: '201', update: '200', delete: '204' };

/**
 * Builds an R4 Backport notification: `Bundle.type = history`, entry[0] a `Parameters` with the
 * backport-subscription-status-r4 profile and `GET {base}/Subscription/{id}/$status`, then one
 * entry per event for `id-only` (request/response, no resource) and `full-resource` (with the
 * resource, except for deletes). `empty` has neither focus nor extra entries, nor the topic.
 */
export function buildNotificationBundle(input: NotificationInput): Bundle {
  const statusEntry: BundleEntry = {
    fullUrl: `urn:uuid:${randomUUID()}`,
    resource: statusParameters(input),
    request: { method: 'GET', url: `${input.baseUrl}/Subscription/${input.subscriptionId}/$status` },
    response: { status: '200' },
  };
  const focusEntries = input.content === 'empty' ? [] : input.events.map((e) => eventEntry(input, e));
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { profile: [BackportUrl.notificationProfile] },
    type: 'history',
    timestamp: new Date().toISOString(),
    entry: [statusEntry, ...focusEntries],
  };
}

function statusParameters(input: NotificationInput): Parameters {
  const parameter: ParametersParameter[] = [
    { name: 'subscription', valueReference: { reference: `${input.baseUrl}/Subscription/${input.subscriptionId}` } },
  ];
  if (input.content !== 'empty') parameter.push({ name: 'topic', valueCanonical: input.topic });
  parameter.push(
    { name: 'status', valueCode: input.status },
    { name: 'type', valueCode: input.type },
    { name: 'events-since-subscription-start', valueString: String(input.eventsSinceStart) },
  );
  for (const event of input.events) parameter.push(notificationEvent(input, event));
  return { resourceType: 'Parameters', meta: { profile: [BackportUrl.statusProfile] }, parameter };
}

function notificationEvent(input: NotificationInput, event: TopicEvent): ParametersParameter {
  const part: ParametersParameter[] = [
    { name: 'event-number', valueString: String(event.eventNumber) },
    { name: 'timestamp', valueInstant: event.timestamp },
  ];
  if (input.content !== 'empty') {
    part.push({ name: 'focus', valueReference: { reference: focusUrl(input.baseUrl, event) } });
  }
  return { name: 'notification-event', part };
}

function eventEntry(input: NotificationInput, event: TopicEvent): BundleEntry {
  const withResource = input.content === 'full-resource' && event.resource && event.interaction !== 'delete';
  return {
    fullUrl: focusUrl(input.baseUrl, event),
    ...(withResource ? { resource: event.resource } : {}),
    request: { method: METHOD[event.interaction], url: `${event.resourceType}/${event.id}` },
    response: { status: RESPONSE_STATUS[event.interaction] },
  };
}

function focusUrl(baseUrl: string, event: TopicEvent): string {
  return `${baseUrl}/${event.resourceType}/${event.id}`;
}
