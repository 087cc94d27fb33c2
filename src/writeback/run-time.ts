import type { Resource } from '@medplum/fhirtypes';

/** Run timestamps we write; they tell "created by this request" from "found from an earlier run". */
const RUN_TIME_FIELDS = ['occurrenceDateTime', 'date', 'recorded'] as const;

/**
 * Whether `saved` is the copy of `sent` this run wrote, when no HTTP status says so (a reply without
 * a per-entry status, or a resource found by search afterwards). Our outputs carry this run's
 * timestamp, so equality means created now; undefined for resources without one (Devices).
 */
export function createdNow(sent: Resource, saved: Resource): boolean | undefined {
  const a = sent as unknown as Record<string, unknown>;
  const b = saved as unknown as Record<string, unknown>;
  const field = RUN_TIME_FIELDS.find((f) => typeof a[f] === 'string');
  if (!field) return undefined;
  return Date.parse(String(a[field])) === Date.parse(String(b[field]));
}
