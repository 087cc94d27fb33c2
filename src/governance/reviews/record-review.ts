import type { Database } from '../../db/database.js';
import { inTransaction } from '../../db/transaction.js';
import { type FhirClient, FhirHttpError } from '../../fhir/fhir-client.js';
import { countReview } from '../../observability/metrics.js';
import { isConflict, sendUpdates, updateOf } from '../../writeback/status-updates.js';
import { validateOne } from '../../writeback/validate.js';
import { type AuditEntry, appendAudit } from '../audit-trail.js';
import { type AssessmentResources, isWithdrawnByUs, loadAssessment, type Output } from './assessment-resources.js';
import { REVIEW_TAG_SYSTEM, type Review, reviewedCopy, reviewedStatus, reviewProvenance } from './review-marks.js';
import { getReview, saveReview } from './review-store.js';

/** Read-decide-write rounds before a version conflict is left to a retry. */
const MAX_ROUNDS = 3;

/** A review that cannot apply: the HTTP status to answer and what to do. */
export class ReviewError extends Error {
  constructor(
    readonly statusCode: 400 | 404 | 409,
    message: string,
  ) {
    super(message);
    this.name = 'ReviewError';
  }
}

export interface ReviewDeps {
  db: Database;
  client: FhirClient;
  source: string;
  serviceVersion: string;
}

export interface ReviewOutcome {
  /** `already-recorded`: the same decision was recorded before (a retry, or our own write-back seen again). */
  outcome: 'recorded' | 'already-recorded';
  key: string;
  model: string;
  patient: string;
  /** `Type/id` of the outputs the decision applies to. */
  resources: string[];
}

/**
 * Records a clinician's decision on one assessment and writes it back: confirm → RiskAssessments
 * final (amend: amended) and the impression completed; reject → all entered-in-error with the reason;
 * each time with a Provenance naming the clinician as verifier. The decision is stored (and audited)
 * before anything is written, so the EHR's notifications of our own updates are recognised as known;
 * the write-back is idempotent (If-Match, a conditional Provenance), so a retry completes a failed one.
 * @param target - `RiskAssessment/<id>` / `ClinicalImpression/<id>`, or the resource as already read
 */
export async function recordReview(deps: ReviewDeps, target: string | Output, review: Review): Promise<ReviewOutcome> {
  const output = typeof target === 'string' ? await readOutput(deps.client, target) : target;
  const ref = `${output.resourceType}/${output.id}`;
  const a = await loadAssessment(deps.client, output);
  if (!a)
    throw new ReviewError(400, `${ref} was not written by fhir-assess: only its own assessments can be reviewed here`);
  if (isWithdrawnByUs(a.outputs.find((o) => `${o.resourceType}/${o.id}` === ref) ?? output))
    throw new ReviewError(
      409,
      `${ref} was withdrawn by fhir-assess (superseded by a newer assessment, or recalled): review the current one`,
    );
  const prior = await getReview(deps.db, deps.source, a.key);
  if (prior?.decision === 'reject' && review.decision !== 'reject')
    throw new ReviewError(
      409,
      `${ref} was rejected (entered in error) on ${prior.decidedAt}; a rejected assessment cannot be confirmed`,
    );
  const again = prior?.decision === review.decision;
  const resources = a.outputs.filter((o) => !isWithdrawnByUs(o)).map((o) => `${o.resourceType}/${o.id}`);
  if (!again) await store(deps, a, review, resources);
  await writeDecision(deps, a, review);
  if (!again) countReview(review.decision, review.via);
  return {
    outcome: again ? 'already-recorded' : 'recorded',
    key: a.key,
    model: a.model,
    patient: a.patient,
    resources,
  };
}

async function readOutput(client: FhirClient, ref: string): Promise<Output> {
  const [type, id] = ref.split('/');
  try {
    return await client.read<Output>(type as Output['resourceType'], id);
  } catch (err) {
    if (err instanceof FhirHttpError && (err.status === 404 || err.status === 410))
      throw new ReviewError(404, `${ref} does not exist in the EHR`);
    throw err;
  }
}

/** The decision and its audit record, in one transaction. */
async function store(deps: ReviewDeps, a: AssessmentResources, review: Review, resources: string[]): Promise<void> {
  await inTransaction(deps.db, async (client) => {
    await saveReview(client, {
      ...review,
      source: deps.source,
      key: a.key,
      model: a.model,
      patient: a.patient,
      resources,
    });
    await appendAudit(client, reviewEntry(deps.source, a, review, resources));
  });
}

/** References and codes only: the clinician's free-text reason goes to the EHR, not the audit trail. */
function reviewEntry(source: string, a: AssessmentResources, review: Review, resources: string[]): AuditEntry {
  return {
    action: 'review',
    recorded: review.at.toISOString(),
    source,
    patient: a.patient,
    model: a.model,
    assessment: a.key,
    written: resources,
    actor: review.reviewer ?? `unidentified (${review.via})`,
    detail: {
      decision: review.decision,
      via: review.via,
      reasonCode: review.reasonCode,
      reasonText: !!review.reasonText,
    },
  };
}

/** The outputs' new statuses and the verifier Provenance; re-read and re-decided on a version conflict. */
async function writeDecision(deps: ReviewDeps, first: AssessmentResources, review: Review): Promise<void> {
  let a = first;
  for (let round = 1; ; round++) {
    const live = a.outputs.filter((o) => !isWithdrawnByUs(o));
    const updates = live
      .filter((o) => o.status !== reviewedStatus(o, review.decision))
      .map((o) => updateOf(reviewedCopy(o, review)));
    const provenance = reviewProvenance(
      live.map((o) => `${o.resourceType}/${o.id}`),
      a.key,
      review,
      deps.serviceVersion,
    );
    const problems = validateOne(provenance, 'preliminary').filter((i) => i.severity === 'error');
    if (problems.length) throw new Error(`review Provenance does not validate: ${problems[0].details?.text}`);
    const tag = `${REVIEW_TAG_SYSTEM}|${provenance.meta?.tag?.[0].code}`;
    try {
      await sendUpdates(deps.client, updates, provenance, `_tag=${encodeURIComponent(tag)}`);
      return;
    } catch (err) {
      if (!isConflict(err) || round >= MAX_ROUNDS) throw err;
      a = (await loadAssessment(deps.client, a.outputs[0])) ?? a;
    }
  }
}
