import { z } from 'zod';
import type { ReviewDecision } from '../governance/reviews/review-marks.js';
import { ApiError } from './api-error.js';
import type { Principal } from './auth.js';

const Parameter = z
  .object({
    name: z.string().min(1),
    valueCode: z.string().optional(),
    valueString: z.string().optional(),
    valueReference: z.object({ reference: z.string().optional() }).loose().optional(),
    valueCodeableConcept: z
      .object({
        coding: z.array(z.object({ code: z.string().optional() }).loose()).optional(),
        text: z.string().optional(),
      })
      .loose()
      .optional(),
  })
  .loose();
const Body = z.object({
  resourceType: z.literal('Parameters', { error: 'the body must be a FHIR Parameters resource' }),
  parameter: z.array(Parameter).max(20).optional(),
});

/** A `$review` request, validated. */
export interface ReviewParams {
  decision: ReviewDecision;
  reviewer: string;
  reasonCode?: string;
  reasonText?: string;
  source?: string;
}

const PRACTITIONER = /^(Practitioner|PractitionerRole)\/[A-Za-z0-9\-.]{1,64}$/;
/** Longest reason text accepted (characters). */
const MAX_REASON = 1000;

/**
 * Reads `$review` input (query string and/or Parameters body): `decision` (confirm | amend | reject),
 * `reason` (string, code or CodeableConcept; required to reject), `reviewer` (a Practitioner
 * reference; from the JWT's `fhirUser` when it has one: a person reviews as themselves) and `source`.
 */
export function parseReviewParams(query: unknown, body: unknown, principal: Principal | undefined): ReviewParams {
  const v = new Map<string, { code?: string; text?: string }>();
  for (const [k, x] of Object.entries((query ?? {}) as Record<string, string>)) v.set(k, { code: x, text: x });
  if (body !== undefined && body !== null) {
    const parsed = Body.safeParse(body);
    if (!parsed.success)
      throw new ApiError(400, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    for (const p of parsed.data.parameter ?? []) {
      const cc = p.valueCodeableConcept;
      v.set(p.name, {
        code: p.valueCode ?? cc?.coding?.[0]?.code ?? p.valueReference?.reference ?? p.valueString,
        text: p.valueString ?? cc?.text,
      });
    }
  }
  const unknown = [...v.keys()].filter((k) => !['decision', 'reason', 'reviewer', 'source'].includes(k));
  if (unknown.length)
    throw new ApiError(
      400,
      `unknown parameter(s): ${unknown.join(', ')}; $review takes decision, reason, reviewer, source`,
    );
  const decision = v.get('decision')?.code;
  if (decision !== 'confirm' && decision !== 'amend' && decision !== 'reject')
    throw new ApiError(
      400,
      `decision must be confirm, amend or reject${decision ? `, got '${decision.slice(0, 40)}'` : ''}`,
    );
  const reason = v.get('reason');
  if (decision !== 'confirm' && !reason) throw new ApiError(400, `a ${decision} needs a reason`);
  if ((reason?.text?.length ?? 0) > MAX_REASON)
    throw new ApiError(400, `reason is longer than ${MAX_REASON} characters`);
  return {
    decision,
    reviewer: reviewerOf(principal, v.get('reviewer')?.code),
    reasonCode:
      reason?.code && /^[A-Za-z0-9._-]{1,64}$/.test(reason.code) && reason.code !== reason.text
        ? reason.code
        : undefined,
    reasonText: reason?.text,
    source: v.get('source')?.code,
  };
}

function reviewerOf(principal: Principal | undefined, given: string | undefined): string {
  const own = principal?.fhirUser?.replace(/^.*\/((Practitioner|PractitionerRole)\/[^/]+)$/, '$1');
  if (own && given && given !== own)
    throw new ApiError(403, `you are signed in as ${own}; a clinician reviews as themselves`);
  const reviewer = own ?? given;
  if (!reviewer)
    throw new ApiError(400, 'who reviewed? sign in with a token carrying fhirUser, or pass reviewer=Practitioner/<id>');
  if (!PRACTITIONER.test(reviewer))
    throw new ApiError(
      400,
      `reviewer must be a Practitioner or PractitionerRole reference, got '${reviewer.slice(0, 80)}'`,
    );
  return reviewer;
}
