import { createHash, timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDeps } from './api-deps.js';
import { hasScope, SCOPES } from './auth.js';
import { outcome } from './operation-outcome.js';

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
    scope.addHook('onRequest', dashboardAuth(deps));
    await scope.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
  });
}

/**
 * The dashboard's guard. It answers refusals itself (an OperationOutcome) instead of throwing: a
 * throw would reach Bull Board's own error handler, which answers in its own JSON shape.
 */
function dashboardAuth(deps: ApiDeps) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = req.headers.authorization ?? '';
    if (/^Basic /i.test(header)) {
      if (deps.dashboard.password && basicMatches(header, deps.dashboard.user, deps.dashboard.password)) return;
    } else if (header || req.headers['x-api-key']) {
      const principal = await deps.auth.authenticate(req.headers).catch(() => undefined);
      if (principal && hasScope(principal, SCOPES.admin)) return;
      if (principal) return refuse(reply, 403, `the queue dashboard needs the scope '${SCOPES.admin}'`);
    }
    void reply.header('WWW-Authenticate', 'Basic realm="fhir-assess queues", charset="UTF-8"');
    return refuse(reply, 401, 'the queue dashboard needs ADMIN_USER/ADMIN_PASSWORD (Basic) or an admin API credential');
  };
}

async function refuse(reply: FastifyReply, status: 401 | 403, message: string): Promise<void> {
  await reply
    .code(status)
    .type('application/fhir+json')
    .send(outcome('error', 'security', message));
}

/** Constant-time comparison of `Basic base64(user:password)` (both sides hashed to equal length). */
function basicMatches(header: string, user: string, password: string): boolean {
  const given = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(`${user}:${password}`));
}
