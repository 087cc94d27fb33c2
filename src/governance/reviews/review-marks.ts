import { createHash } from 'node:crypto';
import type {
  Annotation,
  ClinicalImpression,
  Practitioner,
  Provenance,
  Reference,
  Resource,
  RiskAssessment,
} from '@medplum/fhirtypes';
import { DEVICE_ID_SYSTEM } from '../../writeback/ai-transparency.js';

/** What a clinician decided about one assessment. */
export type ReviewDecision = 'confirm' | 'amend' | 'reject';
/** How the decision reached us. */
export type ReviewVia = 'ehr' | 'api' | 'cds-hooks';

/** `meta.tag` system of a review's Provenance (its conditional-create key). */
export const REVIEW_TAG_SYSTEM = 'urn:fhir-assess:review';

const PARTICIPANT = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';
const DATA_OPERATION = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';

export interface Review {
  decision: ReviewDecision;
  via: ReviewVia;
  /** `Practitioner/<id>` (or PractitionerRole); absent when the EHR did not say who. */
  reviewer?: string;
  /** A reason code (e.g. a CDS override reason, or the caller's code). */
  reasonCode?: string;
  /** Free text the clinician gave: written into the EHR resource only, never into the audit trail. */
  reasonText?: string;
  at: Date;
}

/** The status a reviewed RiskAssessment / ClinicalImpression takes. */
export function reviewedStatus(r: Resource, decision: ReviewDecision): string {
  if (decision === 'reject') return 'entered-in-error';
  if (r.resourceType === 'ClinicalImpression') return 'completed';
  return decision === 'amend' ? 'amended' : 'final';
}

/** The decision a status set in the EHR means, or undefined when it is no decision (preliminary, cancelled...). */
export function decisionOfStatus(r: RiskAssessment | ClinicalImpression): ReviewDecision | undefined {
  if (r.status === 'entered-in-error') return 'reject';
  if (r.resourceType === 'ClinicalImpression') return r.status === 'completed' ? 'confirm' : undefined;
  if (r.status === 'final') return 'confirm';
  if (r.status === 'amended' || r.status === 'corrected') return 'amend';
  return undefined;
}

const words = { confirm: 'Confirmed', amend: 'Confirmed with amendments', reject: 'Rejected (entered in error)' };

/** The reviewed copy: the decision's status and a note saying who decided, when and (text) why. */
export function reviewedCopy<T extends RiskAssessment | ClinicalImpression>(r: T, review: Review): T {
  const who = review.reviewer ?? 'a clinician (the EHR did not say who)';
  const why = review.reasonText ?? review.reasonCode;
  const note: Annotation = {
    authorString: 'fhir-assess',
    time: review.at.toISOString(),
    text: `${words[review.decision]} by ${who} on clinician review${why ? `: ${why}` : ''}.`,
  };
  return { ...r, status: reviewedStatus(r, review.decision), note: [...(r.note ?? []), note] } as T;
}

/**
 * The Provenance of a review: the clinician as `verifier` (HL7 provenance-participant-type), this
 * service as performer of the update, targets = the assessment's outputs. The model's own Provenance
 * is never changed. Keyed by assessment + decision + reviewer, so a repeat finds it.
 */
export function reviewProvenance(targets: string[], key: string, review: Review, serviceVersion: string): Provenance {
  const code = createHash('sha256')
    .update(`${key}|${review.decision}|${review.reviewer ?? ''}`)
    .digest('hex')
    .slice(0, 32);
  const verifier: Reference<Practitioner> = review.reviewer
    ? { reference: review.reviewer }
    : { display: 'clinician (not identified by the EHR)' };
  return {
    resourceType: 'Provenance',
    meta: { tag: [{ system: REVIEW_TAG_SYSTEM, code }] },
    target: targets.map((reference) => ({ reference })),
    occurredDateTime: review.at.toISOString(),
    recorded: review.at.toISOString(),
    activity: {
      coding: [
        review.decision === 'reject'
          ? { system: DATA_OPERATION, code: 'NULLIFY', display: 'nullify' }
          : { system: DATA_OPERATION, code: 'UPDATE', display: 'revise' },
      ],
    },
    reason: [
      {
        ...(review.reasonCode && { coding: [{ system: 'urn:fhir-assess:review-reason', code: review.reasonCode }] }),
        text: `Clinician review (${review.via}): ${words[review.decision].toLowerCase()}`,
      },
    ],
    agent: [
      { type: { coding: [{ system: PARTICIPANT, code: 'verifier', display: 'Verifier' }] }, who: verifier },
      {
        type: { coding: [{ system: PARTICIPANT, code: 'performer', display: 'Performer' }] },
        who: {
          identifier: { system: DEVICE_ID_SYSTEM, value: `fhir-assess-service@${serviceVersion}` },
          display: 'fhir-assess integration service',
        },
      },
    ],
  };
}
