import { type ChangeEvent, ChangeEventSchema } from './change-event.js';
import { NotificationError, type ParsedNotification } from './notification.js';

/**
 * The notification's events as validated {@link ChangeEvent}s of `source`: the one zod pass on the
 * intake path. An id, version or type that could not be stored (wrong characters, too long) is a 400
 * naming the event and the element, never a 5xx.
 */
export function toChangeEvents(source: string, events: ParsedNotification['events']): ChangeEvent[] {
  return events.map((e, i) => {
    const r = ChangeEventSchema.safeParse({ ...e, source });
    if (r.success) return r.data;
    const issue = r.error.issues[0];
    throw new NotificationError(
      400,
      `event ${i + 1} (${e.resourceType ?? 'unknown type'}): ${issue.path.join('.')}: ${issue.message}`,
      'invalid',
    );
  });
}
