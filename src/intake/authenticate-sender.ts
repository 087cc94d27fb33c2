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

const refuse = (message: string) => new NotificationError(401, message, 'security');

/**
 * Which configured EHR sent this notification. A sender proves itself with a bearer secret from its
 * Subscription's `channel.header`, or with a Medplum `X-Signature` (hex HMAC-SHA256 of the raw body,
 * either case). Every credential presented must verify, and all must name the same source:
 * - a present `X-Signature` that no configured HMAC secret reproduces is refused, whatever else
 *   authenticated the request, also when no HMAC secret is configured at all (it cannot be verified)
 *   and also on an open development source;
 * - a present `Authorization` that matches no bearer secret is refused.
 * Sources in `poll` mode send no notifications and are never the sender. Only a single push source
 * without any secret accepts notifications without credentials (development; warned at start-up).
 */
export function authenticateSender(
  headers: Record<string, string | string[] | undefined>,
  rawBody: string,
  sources: readonly Source[],
): Source {
  const push = sources.filter((s) => s.intake.mode !== 'poll');
  const authorization = headers.authorization;
  const signatureHeader = headers['x-signature'];
  if (Array.isArray(signatureHeader) || Array.isArray(authorization))
    throw refuse('more than one X-Signature or Authorization header: send each at most once');
  const bySignature = signatureHeader === undefined ? undefined : signer(signatureHeader, rawBody, push, sources);
  const byBearer = authorization === undefined ? undefined : bearerOwner(authorization, push);
  if (bySignature && byBearer && bySignature !== byBearer)
    throw refuse('the Authorization secret and the X-Signature belong to different sources: check both secrets');
  const source = bySignature ?? byBearer;
  if (source) return source;
  const open = sources.length === 1 && push.length === 1 && !hasSecrets(push[0]);
  if (open) return push[0];
  throw refuse(
    push.length === 0
      ? 'notifications are not accepted: every configured source is in poll mode (intake.mode / INTAKE_MODE)'
      : 'notification not authenticated: send the Subscription channel.header "Authorization: Bearer <secret>" or a valid X-Signature',
  );
}

function hasSecrets(s: Source): boolean {
  return s.notify.bearerSecrets.length > 0 || s.notify.hmacSecrets.length > 0;
}

/** The source whose HMAC secret reproduces the signature; throws when none does (never ignored). */
function signer(signature: string, rawBody: string, push: readonly Source[], all: readonly Source[]): Source {
  const given = signature.toLowerCase(); // Node's hex digest is lower case; upper-case hex is the same value
  let found: Source | undefined;
  for (const source of push) {
    for (const secret of source.notify.hmacSecrets) {
      const ok = equalConstantTime(given, createHmac('sha256', secret).update(rawBody).digest('hex'));
      if (ok && !found) found = source; // no early exit: every secret is tried
    }
  }
  if (found) return found;
  if (!push.some((s) => s.notify.hmacSecrets.length)) {
    const polled = all.some((s) => s.notify.hmacSecrets.length);
    throw refuse(
      `X-Signature present but no HMAC secret is configured to verify it${polled ? ' (only on poll sources)' : ''}: ` +
        `set NOTIFY_HMAC_SECRET (notify.hmacSecrets in SOURCES_FILE) to the Subscription's subscription-secret, ` +
        'or remove that secret from the Subscription',
    );
  }
  throw refuse(
    'X-Signature does not match the body: check that NOTIFY_HMAC_SECRET (notify.hmacSecrets) equals the ' +
      "Subscription's subscription-secret, and that nothing between the EHR and us re-encodes the body",
  );
}

/** The source whose bearer secret is presented; throws when the header names none. */
function bearerOwner(authorization: string, push: readonly Source[]): Source {
  let found: Source | undefined;
  for (const source of push) {
    for (const secret of source.notify.bearerSecrets) {
      const ok = equalConstantTime(authorization, `Bearer ${secret}`);
      if (ok && !found) found = source;
    }
  }
  if (found) return found;
  throw refuse(
    'Authorization does not match any notify secret: check that the Subscription channel.header is ' +
      '"Authorization: Bearer <NOTIFY_SECRET>" (notify.bearerSecrets) with the same secret',
  );
}
