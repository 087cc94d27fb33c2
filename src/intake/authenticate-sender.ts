import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Source } from '../config/sources.js';
import { NotificationError } from './notification.js';

function equalConstantTime(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  // Compare equal-length buffers even when lengths differ, so timing does not reveal the length.
  if (x.length === y.length) return timingSafeEqual(x, y);
  timingSafeEqual(x, x);
  return false;
}

/**
 * Which configured EHR sent this notification. A sender proves itself with a bearer secret from its
 * Subscription's `channel.header`, or with a Medplum `X-Signature` (hex HMAC-SHA256 of the raw body).
 * A signature that is present must verify. When the only configured source has no secrets at all,
 * notifications are accepted unauthenticated (development; the service warns at start-up).
 */
export function authenticateSender(
  headers: Record<string, string | string[] | undefined>,
  rawBody: string,
  sources: readonly Source[],
): Source {
  const authorization = typeof headers.authorization === 'string' ? headers.authorization : '';
  const signature = typeof headers['x-signature'] === 'string' ? headers['x-signature'].toLowerCase() : undefined;
  for (const source of sources) {
    const bearerOk = source.notify.bearerSecrets.some((s) => equalConstantTime(authorization, `Bearer ${s}`));
    const signed = signature !== undefined && source.notify.hmacSecrets.length > 0;
    const signatureOk =
      signed &&
      source.notify.hmacSecrets.some((s) =>
        equalConstantTime(signature, createHmac('sha256', s).update(rawBody).digest('hex')),
      );
    if (signed && !signatureOk && (bearerOk || source.notify.bearerSecrets.length === 0)) {
      throw new NotificationError(
        401,
        'X-Signature does not match the body: check the subscription secret',
        'security',
      );
    }
    if (bearerOk || signatureOk) return source;
  }
  const open =
    sources.length === 1 && sources[0].notify.bearerSecrets.length === 0 && sources[0].notify.hmacSecrets.length === 0;
  if (open) return sources[0];
  throw new NotificationError(
    401,
    'notification not authenticated: send the Subscription channel.header "Authorization: Bearer <secret>" or a valid X-Signature',
    'security',
  );
}
