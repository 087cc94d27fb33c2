import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { BaseUrlGuard } from '../fhir/base-url-guard.js';
import type { ChangeEvent } from './change-event.js';
import { NotificationError, type ParsedNotification } from './notification.js';
import { isAiAsserted, patientIdOf } from './resource-facts.js';

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
    const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(deleted ?? '');
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
    if (entry.resource) {
      events.push(eventFromResource(entry.resource, 'update', 'hapi-transaction'));
    } else if (entry.request?.url) {
      const ref = referenceOf(entry.request.url, guard);
      if (ref)
        events.push({
          via: 'hapi-transaction',
          interaction: entry.request.method === 'DELETE' ? 'delete' : 'update',
          ...ref,
        });
    }
  }
  return { variant: 'hapi-transaction', type: 'event-notification', events };
}

/** `{resourceType, id}` of a relative `Type/id` or an absolute URL under the FHIR base; refuses other servers. */
export function referenceOf(url: string, guard: BaseUrlGuard): { resourceType: string; id: string } | undefined {
  const relative = /^[a-z]+:/i.test(url)
    ? guard.relativeReference(url)
    : url.split('?')[0].replace(/\/_history\/.*$/, '');
  if (relative === undefined) {
    throw new NotificationError(
      422,
      `notification references a resource outside the configured FHIR base URL`,
      'security',
    );
  }
  const m = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(relative);
  return m ? { resourceType: m[1], id: m[2] } : undefined;
}

export function expectResource(body: unknown): Resource {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw new NotificationError(400, 'expected a FHIR resource (JSON object) as the notification body');
  }
  const r = body as Resource;
  if (typeof r.resourceType !== 'string' || !/^[A-Z][A-Za-z]+$/.test(r.resourceType)) {
    throw new NotificationError(400, 'notification body has no valid resourceType');
  }
  return r;
}
