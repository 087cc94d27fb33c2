import type { Bundle, RiskAssessment } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FHIR_ID } from '../fhir/fhir-id.js';
import { isWithdrawnByUs } from '../governance/reviews/assessment-resources.js';
import { ReviewError, recordReview } from '../governance/reviews/record-review.js';
import { ASSESSMENT_ID_SYSTEM } from '../writeback/ai-transparency.js';
import { type ApiDeps, pickSource, sendFhir } from './api-deps.js';
import { ApiError } from './api-error.js';
import { requireAuth, SCOPES } from './auth.js';
import { parseReviewParams } from './review-params.js';

/** Most results one awaiting-review page returns. */
const MAX_COUNT = 200;
const STATUSES = new Set(['preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error']);

const idParams = {
  params: { type: 'object', properties: { id: { type: 'string', pattern: FHIR_ID.source } }, required: ['id'] },
};

/**
 * Clinician review on our API (docs/governance.md): `POST /fhir/RiskAssessment/{id}/$review` (also on
 * the ClinicalImpression) and `GET /fhir/RiskAssessment?status=preliminary`, what awaits review.
 */
export async function reviewRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const preHandler = requireAuth(deps.auth, SCOPES.review);
  for (const type of ['RiskAssessment', 'ClinicalImpression'] as const) {
    app.post(`/fhir/${type}/:id/$review`, { preHandler, schema: idParams }, async (req, reply) => {
      if (!deps.db) throw new ApiError(501, 'reviews are recorded in PostgreSQL: this deployment has no DATABASE_URL');
      const params = parseReviewParams(req.query, req.body, req.principal);
      const source = pickSource(deps, params.source);
      const review = { ...params, via: 'api' as const, at: new Date() };
      try {
        const done = await recordReview(
          { db: deps.db, client: source.client, source: source.name, serviceVersion: deps.serviceVersion },
          `${type}/${(req.params as { id: string }).id}`,
          review,
        );
        return sendFhir(reply, 200, {
          resourceType: 'Parameters',
          parameter: [
            { name: 'outcome', valueCode: done.outcome },
            { name: 'decision', valueCode: params.decision },
            { name: 'reviewer', valueReference: { reference: params.reviewer } },
            ...done.resources.map((reference) => ({ name: 'resource', valueReference: { reference } })),
          ],
        });
      } catch (err) {
        if (err instanceof ReviewError) throw new ApiError(err.statusCode, err.message);
        throw err;
      }
    });
  }
  app.get('/fhir/RiskAssessment', { preHandler }, (req) => awaitingReview(deps, req));
}

/** Our current RiskAssessments in a status (default preliminary: awaiting review), one page, read from the EHR. */
async function awaitingReview(deps: ApiDeps, req: FastifyRequest): Promise<Bundle<RiskAssessment>> {
  const q = (req.query ?? {}) as Record<string, string>;
  const unknown = Object.keys(q).filter((k) => !['status', 'patient', 'subject', '_count', 'source'].includes(k));
  if (unknown.length)
    throw new ApiError(400, `unknown parameter(s): ${unknown.join(', ')}; supported: status, patient, _count, source`);
  const status = q.status ?? 'preliminary';
  if (!STATUSES.has(status)) throw new ApiError(400, `status must be one of ${[...STATUSES].join(', ')}`);
  const patient = q.patient ?? q.subject;
  if (patient && !/^(Patient\/)?[A-Za-z0-9\-.]{1,64}$/.test(patient))
    throw new ApiError(400, 'patient must be a Patient id or Patient/<id>');
  const count = Math.min(Number(q._count ?? 50) || 50, MAX_COUNT);
  const source = pickSource(deps, q.source);
  const found = await source.client.get<Bundle<RiskAssessment>>('RiskAssessment', {
    status,
    identifier: `${ASSESSMENT_ID_SYSTEM}|`,
    ...(patient && { subject: patient.startsWith('Patient/') ? patient : `Patient/${patient}` }),
    _count: String(count),
  });
  const entry = (found.entry ?? []).filter(
    (e) =>
      e.resource?.resourceType === 'RiskAssessment' && e.resource.status === status && !isWithdrawnByUs(e.resource),
  );
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: found.total,
    entry: entry.map((e) => ({
      fullUrl: `${source.client.baseUrl}/RiskAssessment/${e.resource?.id}`,
      resource: e.resource,
      search: { mode: 'match' },
    })),
  };
}
