import type { Queue, QueueEvents } from 'bullmq';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleDeps } from '../console/console-deps.js';
import type { Database } from '../db/database.js';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { SourceRegistry } from '../fhir/source-client.js';
import type { AssessQueue } from '../jobs/assess-queue.js';
import type { AssessRequests } from '../jobs/assess-requests.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import type { ValidateQueue } from '../jobs/validate-queue.js';
import type { ValidationReportStore } from '../validation/report-store.js';
import type { ConfiguredModel } from '../validation/validation-spec.js';
import { ApiError } from './api-error.js';
import type { ApiAuthenticator } from './auth.js';

/** What the FHIR API, CDS Hooks, metrics and dashboard routes need (built by src/api/api-services.ts). */
export interface ApiDeps {
  sources: SourceRegistry;
  assessQueue: AssessQueue;
  /** Every queue, for the dashboard and the job-count metrics. */
  queues: Queue[];
  /** Completion events of the assess queue (synchronous `$assess` waits on them). */
  assessEvents: QueueEvents;
  requests: AssessRequests;
  auth: ApiAuthenticator;
  /** Verifies CDS Hooks JWTs signed by the EHR (CDS_JWKS_URL); absent: CDS clients use `auth`. */
  cdsAuth?: ApiAuthenticator;
  redis: RedisClient;
  keyPrefix: string;
  /** Model ids this deployment runs. */
  modelIds: string[];
  syncTimeoutMs: number;
  /** Where clients reach us (status URLs, CDS audience); default: from the request's Host. */
  publicUrl?: string;
  dashboard: { user: string; password?: string };
  /** The operator console's data sources (absent: no /console). */
  console?: ConsoleDeps;
  /** PostgreSQL: reviews and the audit trail (absent without DATABASE_URL: those routes answer 501). */
  db?: Database;
  /** This service's version (the review Provenance names it). */
  serviceVersion: string;
  /** `$validate-model`: its queue, its requests, the configured models and the report store. */
  validation: ValidationApiDeps;
}

export interface ValidationApiDeps {
  queue: ValidateQueue;
  requests: AssessRequests;
  /** Models a request may name (MODELS_FILE / MODELS), as the workers resolve them. */
  configured: readonly ConfiguredModel[];
  /** Absent without DATABASE_URL: then `$validate-model` answers 501. */
  store?: ValidationReportStore;
}

/** The named source (default: the first configured one); an unknown name is a 400. */
export function pickSource(deps: Pick<ApiDeps, 'sources'>, name?: string): { name: string; client: FhirClient } {
  const all = deps.sources.all();
  const hit = name ? all.find((s) => s.source.name === name) : all[0];
  if (!hit)
    throw new ApiError(400, `unknown source '${name}'; configured: ${all.map((s) => s.source.name).join(', ')}`);
  return { name: hit.source.name, client: hit.client };
}

/** Absolute base URL of this service as the client sees it. */
export function publicBase(deps: Pick<ApiDeps, 'publicUrl'>, req: FastifyRequest): string {
  if (deps.publicUrl) return deps.publicUrl.replace(/\/$/, '');
  return `${req.protocol}://${req.host}`;
}

/** Sends a FHIR JSON body with a status. */
export function sendFhir(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/fhir+json').send(body);
}
