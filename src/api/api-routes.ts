import type { FastifyInstance } from 'fastify';
import { consoleRoutes } from '../console/console-routes.js';
import type { ApiDeps } from './api-deps.js';
import { assessRoutes } from './assess-routes.js';
import { assessStatusRoutes } from './assess-status-routes.js';
import { auditRoutes } from './audit-routes.js';
import { capabilityRoutes } from './capability-routes.js';
import { cdsHooksRoutes } from './cds-hooks.js';
import { metricsRoutes } from './metrics-routes.js';
import { queueDashboard } from './queue-dashboard.js';
import { reviewRoutes } from './review-routes.js';
import { validateRoutes } from './validate-routes.js';

/**
 * Everything besides intake: the FHIR operations (`$assess`, `$validate-model`, their status URLs, metadata), CDS Hooks,
 * `/metrics`, the queue dashboard and the operator console. Authentication per route: see docs/api.md.
 */
export async function apiRoutes(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  await capabilityRoutes(app, deps.publicUrl);
  await assessRoutes(app, deps);
  await assessStatusRoutes(app, deps);
  await validateRoutes(app, deps);
  await cdsHooksRoutes(app, deps);
  await reviewRoutes(app, deps);
  await auditRoutes(app, deps);
  await metricsRoutes(app, deps);
  await queueDashboard(app, deps);
  if (deps.console) await consoleRoutes(app, deps, deps.console);
}
