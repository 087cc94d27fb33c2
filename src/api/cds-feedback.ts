import { z } from 'zod';
import type { RedisClient } from '../jobs/redis-connection.js';

/** Feedback entries kept in the Redis stream (approximate trim): the newest ~10,000. */
export const FEEDBACK_RETENTION = 10_000;

const FeedbackItem = z.object({
  card: z.string().min(1).max(128),
  outcome: z.enum(['accepted', 'overridden']),
  outcomeTimestamp: z.string().min(1).max(64),
  overrideReason: z
    .object({
      reason: z
        .object({ code: z.string().max(64).optional(), system: z.string().optional() })
        .loose()
        .optional(),
    })
    .loose()
    .optional(),
  acceptedSuggestions: z.array(z.object({ id: z.string() }).loose()).optional(),
});

/** CDS Hooks 2.0 sends `{feedback: [...]}`; the 1.x shape (one item at top level) is accepted too. */
export const FeedbackBody = z.union([
  z.object({ feedback: z.array(FeedbackItem).min(1).max(100) }),
  FeedbackItem.transform((item) => ({ feedback: [item] })),
]);
export type FeedbackItem = z.infer<typeof FeedbackItem>;

/** Where feedback lives: a capped stream (the oversight record) and per service|outcome counters (metrics). */
export function feedbackKeys(prefix: string): { stream: string; counts: string } {
  return { stream: `${prefix}:cds-feedback`, counts: `${prefix}:cds-feedback-counts` };
}

/**
 * Records feedback: card uuid, outcome, override reason code and time. No PHI: cards are identified
 * by their uuid only.
 */
export async function recordFeedback(
  redis: RedisClient,
  prefix: string,
  service: string,
  items: FeedbackItem[],
): Promise<void> {
  const keys = feedbackKeys(prefix);
  const multi = redis.multi();
  for (const f of items) {
    multi.xadd(
      keys.stream,
      'MAXLEN',
      '~',
      String(FEEDBACK_RETENTION),
      '*',
      'service',
      service,
      'card',
      f.card,
      'outcome',
      f.outcome,
      'reason',
      f.overrideReason?.reason?.code ?? '',
      'at',
      f.outcomeTimestamp,
    );
    multi.hincrby(keys.counts, `${service}|${f.outcome}`, 1);
  }
  await multi.exec();
}
