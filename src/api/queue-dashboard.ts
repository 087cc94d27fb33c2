import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import { adminGuard } from './admin-auth.js';
import type { ApiDeps } from './api-deps.js';

/** Where operators find the queue dashboard. */
export const DASHBOARD_PATH = '/admin/queues';

/**
 * Bull Board (jobs by state, retry, clean, promote) at /admin/queues, behind authentication: HTTP
 * Basic with ADMIN_USER / ADMIN_PASSWORD (what a browser can do), or an API key / a JWT with the
 * `fhir-assess/admin` scope. Without ADMIN_PASSWORD and API credentials every request is a 401.
 */
export async function queueDashboard(app: FastifyInstance, deps: ApiDeps): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(DASHBOARD_PATH);
  createBullBoard({ queues: deps.queues.map((q) => new BullMQAdapter(q)), serverAdapter });
  await app.register(async (scope) => {
    scope.addHook('onRequest', adminGuard(deps, 'the queue dashboard', 'fhir-assess queues'));
    await scope.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
  });
}
