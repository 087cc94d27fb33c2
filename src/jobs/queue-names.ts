/** Queue names; BullMQ keys are `{prefix}:{name}:...` (use a `{hash-tag}` prefix on Redis Cluster). */
export const EVENTS_QUEUE = 'events';
export const ASSESS_QUEUE = 'assess';
/** Retrospective validation runs (`$validate-model`): one long job per run. */
export const VALIDATE_QUEUE = 'validate';

/**
 * BullMQ priorities: lower runs first. On-demand API calls for one patient > live events > API
 * batches (Group or patient-list `$assess`) > backfill, so a large batch never holds up live events.
 */
export const PRIORITY = { api: 1, live: 5, batch: 8, backfill: 10 } as const;
export type PriorityClass = keyof typeof PRIORITY;
