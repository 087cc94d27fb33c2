import type { Bundle, ClinicalImpression, Resource, RiskAssessment } from '@medplum/fhirtypes';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { FhirClient } from '../fhir/fhir-client.js';
import { FHIR_ID } from '../fhir/fhir-id.js';
import { recordCdsReviews, rememberCards, type ShownCard } from '../governance/reviews/cds-review.js';
import { type ApiDeps, publicBase } from './api-deps.js';
import { ApiError } from './api-error.js';
import { AuthError } from './auth.js';
import { buildCards, type CdsCard } from './cds-cards.js';
import { FeedbackBody, recordFeedback } from './cds-feedback.js';

/** Our one service: cards from the latest AI risk assessments when a chart is opened. */
export const CDS_SERVICE_ID = 'fhir-assess-risk';
/** Newest resources read per type: enough for every calculator's latest assessment. */
const RECENT = 20;

const prefetchTemplates = {
  patient: 'Patient/{{context.patientId}}',
  riskAssessments: `RiskAssessment?subject=Patient/{{context.patientId}}&_sort=-date&_count=${RECENT}`,
  impressions: `ClinicalImpression?subject=Patient/{{context.patientId}}&_sort=-date&_count=${RECENT}`,
};

const HookRequest = z
  .object({
    hook: z.literal('patient-view', { error: `service ${CDS_SERVICE_ID} answers the patient-view hook only` }),
    hookInstance: z.string().min(1).max(128),
    fhirServer: z.url().optional(),
    fhirAuthorization: z
      .object({
        access_token: z.string(),
        token_type: z.string(),
        expires_in: z.number(),
        scope: z.string(),
        subject: z.string(),
      })
      .loose()
      .optional(),
    context: z.object({ userId: z.string().min(1), patientId: z.string().regex(FHIR_ID, 'must be a FHIR id') }).loose(),
    prefetch: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((r) => !r.fhirAuthorization || r.fhirServer, {
    message: 'cds-r-1: fhirServer is required when fhirAuthorization is present',
    path: ['fhirServer'],
  });

/**
 * CDS Hooks (standards.md §2e): `GET /cds-services` (discovery, public), `POST /cds-services/{id}`
 * (patient-view cards, read from the EHR, never computed) and `POST /cds-services/{id}/feedback`.
 */
export async function cdsHooksRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/cds-services', async () => ({
    services: [
      {
        hook: 'patient-view',
        id: CDS_SERVICE_ID,
        title: 'AI clinical risk assessments (fhir-assess)',
        description:
          'Shows the latest AI-generated risk assessments written to this chart (model, version, inputs used and missing). Preliminary until a clinician confirms.',
        prefetch: prefetchTemplates,
      },
    ],
  }));
  const preHandler = [knownService, cdsAuth(deps)];
  app.post('/cds-services/:id', { preHandler }, async (req) => {
    const body = HookRequest.safeParse(req.body);
    if (!body.success)
      throw new ApiError(400, body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    const { client, source } = sourceFor(deps, body.data.fhirServer);
    const name = source.name;
    const patientId = body.data.context.patientId;
    const prefetch = body.data.prefetch ?? {};
    const [risks, impressions] = await Promise.all([
      fromPrefetchOr<RiskAssessment>(prefetch.riskAssessments, 'RiskAssessment', () =>
        recent(client, 'RiskAssessment', patientId),
      ),
      fromPrefetchOr<ClinicalImpression>(prefetch.impressions, 'ClinicalImpression', () =>
        recent(client, 'ClinicalImpression', patientId),
      ),
    ]);
    const forPatient = <T extends RiskAssessment | ClinicalImpression>(r: T) =>
      r.subject?.reference === `Patient/${patientId}`;
    const cards = buildCards(risks.filter(forPatient), impressions.filter(forPatient), client.baseUrl);
    if (deps.db) await rememberCards(deps.redis, deps.keyPrefix, shownCards(cards, risks, name, body.data.context));
    return { cards };
  });
  app.post('/cds-services/:id/feedback', { preHandler }, async (req, reply) => {
    const body = FeedbackBody.safeParse(req.body);
    if (!body.success)
      throw new ApiError(400, body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    await recordFeedback(deps.redis, deps.keyPrefix, CDS_SERVICE_ID, body.data.feedback);
    // Also a review record in the audit trail, tied to the assessment the card showed.
    if (deps.db)
      await recordCdsReviews(
        deps.db,
        deps.redis,
        deps.keyPrefix,
        body.data.feedback.map((f) => ({ ...f, reasonCode: f.overrideReason?.reason?.code })),
      );
    return reply.code(200).send({ recorded: body.data.feedback.length });
  });
}

/** 404 for any service id but ours (before authentication: discovery already lists it publicly). */
async function knownService(req: FastifyRequest): Promise<void> {
  const id = (req.params as { id: string }).id;
  if (id !== CDS_SERVICE_ID) throw new ApiError(404, `no CDS service '${id.slice(0, 64)}'; see GET /cds-services`);
}

/** EHR-signed JWTs (CDS_JWKS_URL; `aud` = the invoked service URL) or, without one, the API credentials. */
function cdsAuth(deps: ApiDeps) {
  return async (req: FastifyRequest): Promise<void> => {
    const auth = deps.cdsAuth ?? deps.auth;
    const audience = deps.cdsAuth
      ? [`${publicBase(deps, req)}${req.url.split('?')[0].replace(/\/feedback$/, '')}`]
      : undefined;
    try {
      req.principal = await auth.authenticate(req.headers, audience);
    } catch (err) {
      throw err instanceof AuthError ? err : new AuthError(401, 'invalid credentials');
    }
  };
}

/** Which resource each card showed (from its link), its model, and the user it was shown to. */
function shownCards(
  cards: CdsCard[],
  risks: RiskAssessment[],
  source: string,
  context: { userId: string; patientId: string },
): { uuid: string; shown: ShownCard }[] {
  return cards.flatMap((c) => {
    const m = /\/((RiskAssessment|ClinicalImpression)\/[A-Za-z0-9\-.]{1,64})$/.exec(c.links?.[0]?.url ?? '');
    if (!m) return [];
    const display = risks.find((r) => `RiskAssessment/${r.id}` === m[1])?.performer?.display;
    const user = /^(Practitioner|PractitionerRole)\/[A-Za-z0-9\-.]{1,64}$/.test(context.userId)
      ? context.userId
      : undefined;
    return [
      {
        uuid: c.uuid,
        shown: {
          source,
          resource: m[1],
          patient: `Patient/${context.patientId}`,
          model: display?.replace(' ', '@'),
          user,
        },
      },
    ];
  });
}

/** The configured source `fhirServer` names (default: the first); never a server we were not configured for. */
function sourceFor(deps: ApiDeps, fhirServer?: string): { client: FhirClient; source: { name: string } } {
  const all = deps.sources.all();
  if (!fhirServer) return all[0];
  const hit = all.find((s) => s.client.guard.isUnder(fhirServer) || s.client.baseUrl === fhirServer.replace(/\/$/, ''));
  if (!hit)
    throw new ApiError(
      400,
      'fhirServer is not an EHR this service is configured for; it reads only from its configured FHIR base URLs',
    );
  return hit;
}

async function recent<T extends Resource>(
  client: FhirClient,
  type: 'RiskAssessment' | 'ClinicalImpression',
  patientId: string,
): Promise<T[]> {
  const bundle = await client.get<Bundle>(type, {
    subject: `Patient/${patientId}`,
    _sort: '-date',
    _count: String(RECENT),
  });
  return (bundle.entry ?? []).map((e) => e.resource as T).filter((r) => r?.resourceType === type);
}

/** A prefetched searchset Bundle when the EHR sent one (null or absent: read it ourselves). */
async function fromPrefetchOr<T extends Resource>(
  value: unknown,
  type: string,
  fetch: () => Promise<T[]>,
): Promise<T[]> {
  const bundle = value as Bundle | null | undefined;
  if (bundle?.resourceType !== 'Bundle') return fetch();
  return (bundle.entry ?? []).map((e) => e.resource as T).filter((r) => r?.resourceType === type);
}
