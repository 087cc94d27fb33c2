import type { Bundle } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { Database } from '../../db/database.js';
import { type FhirClient, FhirHttpError } from '../../fhir/fhir-client.js';
import type { SourceRegistry } from '../../fhir/source-client.js';
import type { ChangeEvent } from '../../intake/change-event.js';
import { assessmentKeyOf, isWithdrawnByUs, type Output } from './assessment-resources.js';
import { recordReview } from './record-review.js';
import { decisionOfStatus, type ReviewDecision } from './review-marks.js';
import { getReview } from './review-store.js';

/** The outputs a clinician may act on in the EHR. */
export const REVIEWABLE_TYPES = new Set(['RiskAssessment', 'ClinicalImpression']);

/** What a change to one of our outputs turned out to be. */
export type ReviewEventOutcome =
  | { action: 'review'; decision: ReviewDecision; outcome: 'recorded' | 'already-recorded'; resources: string[] }
  | { action: 'ignored'; reason: 'own-output' | 'gone' };

export interface EhrReviewDeps {
  db: Database;
  sources: SourceRegistry;
  serviceVersion: string;
  logger: Logger;
}

/**
 * A change to one of our RiskAssessments or ClinicalImpressions never starts an assessment. When it
 * carries a clinician's decision made in the EHR (status final/amended/corrected, completed, or
 * entered-in-error) that is not yet recorded, it is recorded as a review (via `ehr`) and applied to the
 * rest of the assessment with a verifier Provenance. Our own writes are recognised: creates (no earlier
 * version with another status, e.g. a final-mode result), superseded or recalled copies, and statuses
 * whose decision is already recorded (our write-back of a review is stored before it is sent).
 */
export function ehrReviews(deps: EhrReviewDeps): (event: ChangeEvent) => Promise<ReviewEventOutcome> {
  return async (event) => {
    if (event.interaction !== 'update' || !event.id) return ignored;
    const client = deps.sources.client(event.source);
    let r: Output;
    try {
      r = await client.read<Output>(event.resourceType as Output['resourceType'], event.id);
    } catch (err) {
      if (err instanceof FhirHttpError && (err.status === 404 || err.status === 410))
        return { action: 'ignored', reason: 'gone' };
      throw err;
    }
    const key = assessmentKeyOf(r);
    const decision = decisionOfStatus(r);
    if (!key || !decision || isWithdrawnByUs(r)) return ignored;
    if ((await getReview(deps.db, event.source, key))?.decision === decision) return ignored;
    // A decision is a change of status: a result written final (final mode) was decided by no one.
    if (!(await statusChanged(client, r))) return ignored;
    const review = { decision, via: 'ehr' as const, reviewer: reviewerOf(r), at: new Date() };
    const done = await recordReview({ ...deps, client, source: event.source }, r, review);
    deps.logger.info(
      { resource: `${r.resourceType}/${r.id}`, decision, outcome: done.outcome },
      'clinician review from the EHR recorded',
    );
    return { action: 'review', decision, outcome: done.outcome, resources: done.resources };
  };
}

/**
 * True when the version before this one had another status (or the EHR keeps no history to ask);
 * false for the first version (our own create) or a change that left the status as it was.
 */
async function statusChanged(client: FhirClient, r: Output): Promise<boolean> {
  let history: Bundle;
  try {
    history = await client.get<Bundle>(`${r.resourceType}/${encodeURIComponent(r.id ?? '')}/_history`, {
      _count: '10',
    });
  } catch (err) {
    if (err instanceof FhirHttpError && !err.retryable) return true; // no history here: trust the status
    throw err;
  }
  const versions = (history.entry ?? [])
    .map((e) => e.resource as Output | undefined)
    .filter((v): v is Output => v?.resourceType === r.resourceType && v.id === r.id)
    .sort((x, y) => Date.parse(y.meta?.lastUpdated ?? '') - Date.parse(x.meta?.lastUpdated ?? ''));
  const current = versions.findIndex((v) => v.meta?.versionId === r.meta?.versionId);
  const before = current >= 0 ? versions[current + 1] : undefined;
  return !!before && before.status !== r.status;
}

const ignored: ReviewEventOutcome = { action: 'ignored', reason: 'own-output' };

/** Who changed it, when the EHR says (Medplum's `meta.author`) and it is a practitioner. */
function reviewerOf(r: Output): string | undefined {
  const author = (r.meta as { author?: { reference?: string } } | undefined)?.author?.reference;
  return author && /^(Practitioner|PractitionerRole)\/[A-Za-z0-9\-.]{1,64}$/.test(author) ? author : undefined;
}
