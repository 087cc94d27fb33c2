import type { FastifyInstance } from 'fastify';
import { metricsRegistry } from '../observability/metrics.js';
import type { ApiDeps } from './api-deps.js';
import { requireAuth, SCOPES } from './auth.js';

/**
 * `GET /metrics` (Prometheus text format), behind the API credentials with the `fhir-assess/admin`
 * scope (Prometheus sends an API key via `authorization.credentials_file`); see docs/operations.md.
 */
export async function metricsRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  app.get('/metrics', { preHandler: requireAuth(deps.auth, SCOPES.admin) }, async (_req, reply) =>
    reply.type(metricsRegistry.contentType).send(await metricsRegistry.metrics()),
  );
}
