import type { Database } from '../../db/database.js';
import { inTransaction } from '../../db/transaction.js';
import type { RedisClient } from '../../jobs/redis-connection.js';
import { countReview } from '../../observability/metrics.js';
import { type AuditEntry, appendAudit } from '../audit-trail.js';

/** How long a shown card can be matched to its feedback (s): 30 days. */
const CARD_TTL_S = 30 * 24 * 3600;

/** What a card showed: ids only (kept in Redis so that its feedback can be tied to the assessment). */
export interface ShownCard {
  source: string;
  /** `RiskAssessment/<id>` or `ClinicalImpression/<id>` */
  resource: string;
  patient: string;
  /** `id@version` when the resource names it. */
  model?: string;
  /** The CDS Hooks `context.userId` (e.g. `Practitioner/123`) the card was shown to. */
  user?: string;
}

const cardKey = (prefix: string, uuid: string) => `${prefix}:cds-card:${uuid}`;

/** Remembers which resource each card showed, and to whom. */
export async function rememberCards(
  redis: RedisClient,
  prefix: string,
  cards: { uuid: string; shown: ShownCard }[],
): Promise<void> {
  if (!cards.length) return;
  const multi = redis.multi();
  for (const c of cards) multi.set(cardKey(prefix, c.uuid), JSON.stringify(c.shown), 'EX', CARD_TTL_S);
  await multi.exec();
}

export interface CardFeedback {
  card: string;
  outcome: 'accepted' | 'overridden';
  outcomeTimestamp: string;
  reasonCode?: string;
}

/**
 * CDS Hooks feedback as review records: each card's outcome (accepted, or overridden with its
 * reason code) is appended to the audit trail against the assessment the card showed, once per
 * card, outcome and time (a resent feedback adds nothing). It changes nothing in the EHR: accepting
 * or dismissing a card is not a sign-off on the result (docs/governance.md).
 * @returns how many were recorded now (feedback on unknown or expired cards is kept in Redis only)
 */
export async function recordCdsReviews(
  db: Database,
  redis: RedisClient,
  prefix: string,
  items: CardFeedback[],
): Promise<number> {
  let recorded = 0;
  for (const f of items) {
    const json = await redis.get(cardKey(prefix, f.card));
    if (!json) continue;
    const shown = JSON.parse(json) as ShownCard;
    const fresh = await inTransaction(db, async (client) => {
      const inserted = await client.query(
        'INSERT INTO cds_feedback_reviews (card, outcome, outcome_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [f.card, f.outcome, f.outcomeTimestamp],
      );
      if (inserted.rowCount) await appendAudit(client, cdsEntry(shown, f));
      return !!inserted.rowCount;
    });
    if (!fresh) continue;
    recorded++;
    countReview(`cds-${f.outcome}`, 'cds-hooks');
  }
  return recorded;
}

function cdsEntry(shown: ShownCard, f: CardFeedback): AuditEntry {
  return {
    action: 'review',
    recorded: new Date().toISOString(),
    source: shown.source,
    patient: shown.patient,
    model: shown.model,
    written: [shown.resource],
    actor: shown.user ?? 'unidentified (cds-hooks)',
    detail: {
      decision: `cds-${f.outcome}`,
      via: 'cds-hooks',
      reasonCode: f.reasonCode,
      card: f.card,
      at: f.outcomeTimestamp,
    },
  };
}
