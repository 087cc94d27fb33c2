import { z } from 'zod';

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
  interaction: z.enum(['create', 'update', 'delete', 'ping']),
  resourceType: z
    .string()
    .regex(/^[A-Z][A-Za-z]+$/)
    .optional(),
  id: z
    .string()
    .regex(/^[A-Za-z0-9\-.]{1,64}$/)
    .optional(),
  versionId: z.string().min(1).max(64).optional(),
  /** `meta.lastUpdated` of the version named, when known: orders versions whose ids are not numbers. */
  lastUpdated: z.string().max(40).optional(),
  /** Patient id when the notification already told us (full-resource payloads). */
  patientId: z
    .string()
    .regex(/^[A-Za-z0-9\-.]{1,64}$/)
    .optional(),
  subscription: z.string().max(256).optional(),
  eventNumber: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
  occurredAt: z.string().max(40).optional(),
  /** True when the resource was written by an AI (AIAST label): never triggers an assessment. */
  aiAsserted: z.boolean().optional(),
});

export type ChangeEvent = z.infer<typeof ChangeEventSchema>;
