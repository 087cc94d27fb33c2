import { z } from 'zod';
import { FHIR_ID, RESOURCE_TYPE } from '../fhir/fhir-id.js';

/** FHIR logical ids (`Resource.id`). */
const ID = FHIR_ID;
const INTERACTIONS = ['create', 'update', 'delete', 'ping'] as const;
/** Longest stored strings (characters): versions, instants, subscription references. */
const MAX = { versionId: 64, instant: 40, subscription: 256 } as const;

/**
 * One normalised "this resource changed" fact, taken from a notification or a poll.
 * Holds references only: BullMQ stores job data in clear text, so no resource bodies (PHI) go here.
 */
export const ChangeEventSchema = z.object({
  /** Configured source (EHR) name. */
  source: z.string().min(1),
  /** How the event reached us: which wire format, or 'poll'. */
  via: z.string().min(1),
  /** `create | update | delete`, or `ping` when the notification only said "something changed" (empty body). */
  interaction: z.enum(INTERACTIONS),
  resourceType: z.string().regex(RESOURCE_TYPE).optional(),
  id: z.string().regex(ID).optional(),
  versionId: z.string().min(1).max(MAX.versionId).optional(),
  /** `meta.lastUpdated` of the version named, when known: orders versions whose ids are not numbers. */
  lastUpdated: z.string().max(MAX.instant).optional(),
  /** Patient id when the notification already told us (full-resource payloads). */
  patientId: z.string().regex(ID).optional(),
  subscription: z.string().max(MAX.subscription).optional(),
  eventNumber: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  occurredAt: z.string().max(MAX.instant).optional(),
  /** True when the resource was written by an AI (AIAST label): never triggers an assessment. */
  aiAsserted: z.boolean().optional(),
});

export type ChangeEvent = z.infer<typeof ChangeEventSchema>;

const optional = (v: unknown, ok: (v: unknown) => boolean) => v === undefined || ok(v);
const str =
  (max: number, min = 0) =>
  (v: unknown) =>
    typeof v === 'string' && v.length >= min && v.length <= max;
const matches = (re: RegExp) => (v: unknown) => typeof v === 'string' && re.test(v);
const KNOWN = new Set(Object.keys(ChangeEventSchema.shape));

/**
 * The same rules as {@link ChangeEventSchema}, without building a copy: intake checks every event
 * with this first and asks zod only to word the error (a test keeps the two in agreement).
 */
export function isChangeEvent(e: Record<string, unknown>): boolean {
  for (const k in e) if (!KNOWN.has(k)) return false; // zod would strip it: let zod decide
  return (
    str(Number.POSITIVE_INFINITY, 1)(e.source) &&
    str(Number.POSITIVE_INFINITY, 1)(e.via) &&
    (INTERACTIONS as readonly unknown[]).includes(e.interaction) &&
    optional(e.resourceType, matches(RESOURCE_TYPE)) &&
    optional(e.id, matches(ID)) &&
    optional(e.versionId, str(MAX.versionId, 1)) &&
    optional(e.lastUpdated, str(MAX.instant)) &&
    optional(e.patientId, matches(ID)) &&
    optional(e.subscription, str(MAX.subscription)) &&
    optional(e.eventNumber, (v) => Number.isSafeInteger(v) && (v as number) >= 0) &&
    optional(e.occurredAt, str(MAX.instant)) &&
    optional(e.aiAsserted, (v) => typeof v === 'boolean')
  );
}
