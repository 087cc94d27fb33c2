import { createHmac, randomUUID } from 'node:crypto';

/*
 * Notification bodies as EHRs send them, written from the Subscriptions Backport IG examples
 * (BackportNotificationR4.fsh, Bundle-r4b-notification-*.json, R5 subscription-notification) and the
 * Medplum/HAPI behaviour in standards.md §1. Builders, not captures: every test says what it sends.
 */

export type Variant = 'r4-backport' | 'r4b-backport' | 'r5';
export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';
export type Content = 'empty' | 'id-only' | 'full-resource';

export interface TopicEventSpec {
  eventNumber: number;
  /** `Type/id` of the focus. */
  focus: string;
  /** The resource, for full-resource content. */
  resource?: Record<string, unknown>;
  method?: 'POST' | 'PUT' | 'DELETE';
  timestamp?: string;
}

export interface TopicNotificationSpec {
  variant: Variant;
  base: string;
  subscriptionId: string;
  type: NotificationType;
  content: Content;
  eventsSinceStart: number;
  events?: TopicEventSpec[];
  status?: string;
  topic?: string;
}

const TOPIC = 'http://fhir-assess.dev/SubscriptionTopic/patient-data-changed';
const BP = 'http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition';

/** A topic-based notification Bundle in the shape of the given FHIR version (variants F, G, H). */
export function topicNotification(spec: TopicNotificationSpec): Record<string, unknown> {
  const events = spec.events ?? [];
  const statusEntry = {
    fullUrl: `urn:uuid:${randomUUID()}`,
    resource: spec.variant === 'r4-backport' ? r4Status(spec, events) : subscriptionStatus(spec, events),
    request: { method: 'GET', url: `${spec.base}/Subscription/${spec.subscriptionId}/$status` },
    response: { status: '200' },
  };
  const focusEntries =
    spec.content === 'empty'
      ? []
      : events.map((e) => ({
          fullUrl: `${spec.base}/${e.focus}`,
          ...(spec.content === 'full-resource' && e.resource && e.method !== 'DELETE' ? { resource: e.resource } : {}),
          request: { method: e.method ?? 'PUT', url: e.focus },
          response: { status: e.method === 'POST' ? '201' : e.method === 'DELETE' ? '204' : '200' },
        }));
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    ...(spec.variant === 'r4-backport' ? { meta: { profile: [`${BP}/backport-subscription-notification-r4`] } } : {}),
    type: spec.variant === 'r5' ? 'subscription-notification' : 'history',
    timestamp: new Date().toISOString(),
    entry: [statusEntry, ...focusEntries],
  };
}

function r4Status(spec: TopicNotificationSpec, events: TopicEventSpec[]) {
  const parameter: Record<string, unknown>[] = [
    { name: 'subscription', valueReference: { reference: `${spec.base}/Subscription/${spec.subscriptionId}` } },
  ];
  if (spec.content !== 'empty') parameter.push({ name: 'topic', valueCanonical: spec.topic ?? TOPIC });
  parameter.push(
    { name: 'status', valueCode: spec.status ?? (spec.type === 'handshake' ? 'requested' : 'active') },
    { name: 'type', valueCode: spec.type },
    { name: 'events-since-subscription-start', valueString: String(spec.eventsSinceStart) },
  );
  for (const e of events) {
    const part: Record<string, unknown>[] = [
      { name: 'event-number', valueString: String(e.eventNumber) },
      { name: 'timestamp', valueInstant: e.timestamp ?? '2020-05-29T11:44:13.1882432-05:00' },
    ];
    if (spec.content !== 'empty')
      part.push({ name: 'focus', valueReference: { reference: `${spec.base}/${e.focus}` } });
    parameter.push({ name: 'notification-event', part });
  }
  return { resourceType: 'Parameters', meta: { profile: [`${BP}/backport-subscription-status-r4`] }, parameter };
}

function subscriptionStatus(spec: TopicNotificationSpec, events: TopicEventSpec[]) {
  return {
    resourceType: 'SubscriptionStatus',
    status: spec.status ?? (spec.type === 'handshake' ? 'requested' : 'active'),
    type: spec.type,
    eventsSinceSubscriptionStart: String(spec.eventsSinceStart),
    notificationEvent: events.map((e) => ({
      eventNumber: String(e.eventNumber),
      timestamp: e.timestamp ?? '2020-05-29T11:44:13.1882432-05:00',
      ...(spec.content === 'empty' ? {} : { focus: { reference: `${spec.base}/${e.focus}` } }),
    })),
    subscription: { reference: `${spec.base}/Subscription/${spec.subscriptionId}` },
    ...(spec.content === 'empty' ? {} : { topic: spec.topic ?? TOPIC }),
  };
}

/** An Observation for a patient, as an EHR stores it (versioned). */
export function observation(id: string, patientId: string, versionId = '1'): Record<string, unknown> {
  return {
    resourceType: 'Observation',
    id,
    meta: { versionId, lastUpdated: '2021-03-30T10:00:00.000Z' },
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '2093-3' }] },
    subject: { reference: `Patient/${patientId}` },
    valueQuantity: { value: 213, unit: 'mg/dL' },
  };
}

/** Variant D: HAPI `subscription-payload-search-criteria` transaction Bundle. */
export function hapiTransaction(base: string, resources: Record<string, unknown>[]): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((r) => ({
      fullUrl: `${base}/${r.resourceType}/${r.id}`,
      resource: r,
      request: { method: 'PUT', url: `${r.resourceType}/${r.id}` },
    })),
  };
}

/** Variant E: Medplum's request headers and `X-Signature` (hex HMAC-SHA256 of the exact body). */
export function medplumHeaders(
  body: string,
  opts: { subscription: string; interaction: 'create' | 'update' | 'delete'; deleted?: string; secret?: string },
): Record<string, string> {
  return {
    'content-type': 'application/fhir+json',
    'x-medplum-subscription': opts.subscription,
    'x-medplum-interaction': opts.interaction,
    ...(opts.deleted ? { 'x-medplum-deleted-resource': opts.deleted } : {}),
    ...(opts.secret ? { 'x-signature': createHmac('sha256', opts.secret).update(body).digest('hex') } : {}),
  };
}
