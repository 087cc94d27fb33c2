import { type ChangeEvent, ChangeEventSchema, isChangeEvent } from './change-event.js';
import { NotificationError, type ParsedNotification } from './notification.js';

/**
 * The notification's events as validated {@link ChangeEvent}s of `source` (zod only words the errors);
 * they name their subscription by logical id (short, and the ledger's key). An id, version or type that
 * could not be stored (wrong characters, too long) is a 400 naming the event and the element, never a 5xx.
 */
export function toChangeEvents(
  source: string,
  events: ParsedNotification['events'],
  /** The subscription's logical id: stored instead of whatever URL form the sender used. */
  subscriptionId?: string,
): ChangeEvent[] {
  return events.map((e, i) => {
    const event = subscriptionId && e.subscription ? { ...e, source, subscription: subscriptionId } : { ...e, source };
    if (isChangeEvent(event)) return event as ChangeEvent; // the usual case: no zod copy
    const r = ChangeEventSchema.safeParse(event);
    if (r.success) return r.data;
    const issue = r.error.issues[0];
    throw new NotificationError(
      400,
      `event ${i + 1} (${e.resourceType ?? 'unknown type'}): ${issue.path.join('.')}: ${issue.message}`,
      'invalid',
    );
  });
}
