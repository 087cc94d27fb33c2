import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { BaseUrlGuard } from '../fhir/base-url-guard.js';
import { FHIR_ID_SOURCE } from '../fhir/fhir-id.js';
import type { ChangeEvent } from './change-event.js';
import { NotificationError, type ParsedNotification } from './notification.js';
import { checkShape, ResourceShape } from './notification-shape.js';
import { isAiAsserted, patientIdOf } from './resource-facts.js';

const TYPE_SLASH_ID = new RegExp(`^([A-Z][A-Za-z]+)\\/(${FHIR_ID_SOURCE})$`);
const TYPE_ID_VERSION = new RegExp(
  `^([A-Z][A-Za-z]+)\\/(${FHIR_ID_SOURCE})(?:\\/_history\\/([A-Za-z0-9\\-.]{1,64}))?$`,
);

type Event = ParsedNotification['events'][number];

/** Facts about one resource that travelled in a notification: references only, the body stays here. */
export function eventFromResource(resource: Resource, interaction: ChangeEvent['interaction'], via: string): Event {
  if (!resource.id) throw new NotificationError(400, `${resource.resourceType} in notification has no id`, 'structure');
  return {
    via,
    interaction,
    resourceType: resource.resourceType,
    id: resource.id,
    versionId: resource.meta?.versionId,
    lastUpdated: resource.meta?.lastUpdated,
    patientId: patientIdOf(resource),
    aiAsserted: isAiAsserted(resource) || undefined,
  };
}

/** Variant A: R4 classic rest-hook without payload. Only says "something matching changed". */
export function parseEmptyPing(subscription?: string): ParsedNotification {
  return {
    variant: 'r4-classic-empty',
    type: 'event-notification',
    subscription,
    events: [{ via: 'r4-classic-empty', interaction: 'ping', subscription }],
  };
}

/** Variants B and C: `PUT|DELETE {endpoint}/{Type}/{id}` (HAPI classic rest-hook with payload, and deletes). */
export function parseClassicWithPath(
  method: 'PUT' | 'DELETE',
  resourceType: string,
  id: string,
  body: unknown,
): ParsedNotification {
  if (method === 'DELETE') {
    return {
      variant: 'r4-classic-delete',
      type: 'event-notification',
      events: [{ via: 'r4-classic-delete', interaction: 'delete', resourceType, id }],
    };
  }
  const resource = expectResource(body);
  if (resource.resourceType !== resourceType || resource.id !== id) {
    throw new NotificationError(
      400,
      `body is ${resource.resourceType}/${resource.id} but the path says ${resourceType}/${id}`,
    );
  }
  return {
    variant: 'r4-classic-payload',
    type: 'event-notification',
    events: [eventFromResource(resource, 'update', 'r4-classic-payload')],
  };
}

/** Variant E: Medplum rest-hook (bare resource; `{}` plus X-Medplum-Deleted-Resource on delete). */
export function parseMedplum(headers: Record<string, string | undefined>, body: unknown): ParsedNotification {
  const subscription = headers['x-medplum-subscription'];
  const interaction = headers['x-medplum-interaction'];
  const deleted = headers['x-medplum-deleted-resource'];
  if (interaction === 'delete' || deleted) {
    const m = TYPE_SLASH_ID.exec(deleted ?? '');
    if (!m)
      throw new NotificationError(400, 'Medplum delete notification without a valid X-Medplum-Deleted-Resource header');
    return {
      variant: 'medplum',
      type: 'event-notification',
      subscription,
      events: [{ via: 'medplum', interaction: 'delete', resourceType: m[1], id: m[2], subscription }],
    };
  }
  const resource = expectResource(body);
  const kind = interaction === 'create' ? 'create' : 'update';
  return {
    variant: 'medplum',
    type: 'event-notification',
    subscription,
    events: [{ ...eventFromResource(resource, kind, 'medplum'), subscription }],
  };
}

/** Variant D: HAPI `subscription-payload-search-criteria`: a transaction Bundle of the matched resources. */
export function parseHapiTransaction(bundle: Bundle, guard: BaseUrlGuard): ParsedNotification {
  const events: Event[] = [];
  for (const entry of bundle.entry ?? []) {
    const interaction = interactionOf(entry);
    if (entry.resource) {
      events.push(eventFromResource(entry.resource, interaction, 'hapi-transaction'));
    } else if (entry.request?.url) {
      const ref = referenceOf(entry.request.url, guard);
      if (ref) events.push({ via: 'hapi-transaction', interaction, ...ref });
    }
  }
  return { variant: 'hapi-transaction', type: 'event-notification', events };
}

/** What a Bundle entry says happened: its request method, else its response status (201 = created). */
export function interactionOf(entry: BundleEntry): 'create' | 'update' | 'delete' {
  if (entry.request?.method === 'DELETE') return 'delete';
  if (entry.request?.method === 'POST' || entry.response?.status?.startsWith('201')) return 'create';
  return 'update';
}

/**
 * `{resourceType, id, versionId?}` of a relative `Type/id[/_history/v]` or an absolute URL under the FHIR
 * base; refuses other servers (we never fetch there); undefined when the URL names no single resource.
 */
export function referenceOf(
  url: string,
  guard: BaseUrlGuard,
): { resourceType: string; id: string; versionId?: string } | undefined {
  if (/^urn:/i.test(url)) return undefined; // a Bundle-local id, not a server address
  const base = guard.base.href;
  // Fast path for the usual absolute URL under the base: no URL parsing. The remainder must still be
  // a plain `Type/id`, so `..` segments or encodings cannot lead anywhere else.
  const relative = url.startsWith(base)
    ? url.slice(base.length).split(/[?#]/)[0]
    : /^[a-z][a-z0-9+.-]*:/i.test(url)
      ? guard.relativeReference(url)
      : url.split(/[?#]/)[0];
  if (relative === undefined) {
    if (guard.isUnder(url)) return undefined; // under the base, but not `Type/id` (e.g. a search URL)
    throw new NotificationError(
      422,
      'notification references a resource outside the configured FHIR base URL',
      'security',
    );
  }
  const m = TYPE_ID_VERSION.exec(relative.replace(/^\//, ''));
  if (!m) return undefined;
  const version = /\/_history\/([A-Za-z0-9\-.]{1,64})(?:[?#].*)?$/.exec(url)?.[1] ?? m[3];
  return { resourceType: m[1], id: m[2], ...(version ? { versionId: version } : {}) };
}

/** The body as a FHIR resource (structure checked), or a 400 saying what is wrong with it. */
export function expectResource(body: unknown): Resource {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new NotificationError(400, 'expected a FHIR resource (JSON object) as the notification body');
  }
  if (typeof (body as { resourceType?: unknown }).resourceType !== 'string') {
    throw new NotificationError(400, 'notification body has no valid resourceType');
  }
  checkShape(ResourceShape, body, 'notification body');
  return body as Resource;
}
