import type { Bundle } from '@medplum/fhirtypes';
import type { BaseUrlGuard } from '../fhir/base-url-guard.js';
import { NotificationError, type ParsedNotification } from './notification.js';
import { BundleShape, checkShape } from './notification-shape.js';
import {
  expectResource,
  parseClassicWithPath,
  parseEmptyPing,
  parseHapiTransaction,
  parseMedplum,
} from './parse-classic.js';
import { parseSubscriptionBundle } from './parse-subscription-bundle.js';
import { subscriptionIdOf } from './subscription-ref.js';

export interface IncomingNotification {
  method: 'POST' | 'PUT' | 'DELETE';
  /** `{Type}/{id}` from `PUT|DELETE /notify/{Type}/{id}`. */
  path?: { resourceType: string; id: string };
  headers: Record<string, string | undefined>;
  /** Parsed JSON body; undefined when empty. */
  body: unknown;
}

/** Most entries one notification may carry: a guard against memory blow-ups from hostile senders. */
export const MAX_NOTIFICATION_ENTRIES = 1000;

/**
 * Routes a notification to its wire-format parser by method, path, headers and body shape (standards.md §0).
 * Throws only {@link NotificationError}s: anything else a parser trips over becomes a 400, so no
 * notification, however mangled, can produce a 5xx (the EHR would retry it forever).
 */
export function parseNotification(n: IncomingNotification, guard: BaseUrlGuard): ParsedNotification {
  try {
    const parsed = route(n, guard);
    if (parsed.subscription && !parsed.subscriptionId)
      parsed.subscriptionId = subscriptionIdOf(parsed.subscription, guard);
    return parsed;
  } catch (err) {
    if (err instanceof NotificationError) throw err;
    throw new NotificationError(400, 'notification structure is not understood', 'structure');
  }
}

function route(n: IncomingNotification, guard: BaseUrlGuard): ParsedNotification {
  if (n.method === 'PUT' || n.method === 'DELETE') {
    if (!n.path)
      throw new NotificationError(405, `${n.method} is only accepted at /notify/{type}/{id}`, 'not-supported');
    return parseClassicWithPath(n.method, n.path.resourceType, n.path.id, n.body);
  }
  if (n.headers['x-medplum-subscription'] || n.headers['x-medplum-interaction']) return parseMedplum(n.headers, n.body);
  if (n.body === undefined) return parseEmptyPing();
  const resource = expectResource(n.body);
  if (resource.resourceType !== 'Bundle') {
    throw new NotificationError(
      422,
      `a ${resource.resourceType} was posted without X-Medplum-* headers; classic payloads use PUT /notify/{type}/{id}`,
    );
  }
  const entries = (resource as Bundle).entry;
  if (Array.isArray(entries) && entries.length > MAX_NOTIFICATION_ENTRIES) {
    throw new NotificationError(
      413,
      `notification has ${entries.length} entries; at most ${MAX_NOTIFICATION_ENTRIES} are accepted`,
      'too-costly',
    );
  }
  const bundle = checkShape<Bundle>(BundleShape, resource, 'notification Bundle');
  const first = bundle.entry?.[0]?.resource?.resourceType;
  if (
    (bundle.type as string) === 'subscription-notification' ||
    (bundle.type === 'history' && (first === 'Parameters' || first === 'SubscriptionStatus'))
  ) {
    return parseSubscriptionBundle(bundle, guard);
  }
  if (bundle.type === 'transaction') return parseHapiTransaction(bundle, guard);
  throw new NotificationError(
    422,
    `Bundle of type '${String(bundle.type).slice(0, 40)}' is not a subscription notification`,
  );
}
