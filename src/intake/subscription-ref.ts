import type { BaseUrlGuard } from '../fhir/base-url-guard.js';
import { FHIR_ID, FHIR_ID_SOURCE } from '../fhir/fhir-id.js';
import { NotificationError } from './notification.js';

const ID = FHIR_ID;
const SUBSCRIPTION_PATH = new RegExp(
  `^(?:.*\\/)?Subscription\\/(${FHIR_ID_SOURCE})(?:\\/_history\\/[^/]*)?(?:\\/\\$[a-z-]+)?$`,
);

/**
 * The Subscription's logical id from what a notification calls it: `Subscription/x`, an absolute URL
 * under the FHIR base, or a bare id (Medplum's `X-Medplum-Subscription`). One subscription gets one
 * event-number ledger whichever form the sender used. A URL on another server is refused (422).
 */
export function subscriptionIdOf(ref: string, guard: BaseUrlGuard): string {
  if (ID.test(ref)) return ref;
  const under = ref.startsWith(guard.base.href); // textual prefix: the usual case, no URL parsing
  if (!under && /^[a-z][a-z0-9+.-]*:/i.test(ref) && !guard.isUnder(ref)) {
    throw new NotificationError(422, 'subscription reference is outside the configured FHIR base URL', 'security');
  }
  const m = SUBSCRIPTION_PATH.exec(ref.split(/[?#]/)[0]);
  if (!m) throw new NotificationError(400, 'subscription reference is not a Subscription id or URL', 'structure');
  return m[1];
}
