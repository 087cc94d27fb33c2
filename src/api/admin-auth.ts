import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiDeps } from './api-deps.js';
import { hasScope, SCOPES } from './auth.js';
import { outcome } from './operation-outcome.js';

/**
 * The guard of the browser-facing admin pages (queue dashboard, operator console): HTTP Basic with
 * ADMIN_USER / ADMIN_PASSWORD (what a browser can do), or an API key / a JWT with the
 * `fhir-assess/admin` scope. Without ADMIN_PASSWORD and API credentials every request is a 401. It
 * answers refusals itself (an OperationOutcome) instead of throwing, so a plugin's own error handler
 * (Bull Board's) never answers in its own shape.
 * @param what - what is protected, for the messages ("the queue dashboard")
 * @param realm - the Basic realm the browser shows (and keys its saved credentials by)
 */
export function adminGuard(deps: Pick<ApiDeps, 'auth' | 'dashboard'>, what: string, realm: string) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = req.headers.authorization ?? '';
    if (/^Basic /i.test(header)) {
      if (deps.dashboard.password && basicMatches(header, deps.dashboard.user, deps.dashboard.password)) return;
    } else if (header || req.headers['x-api-key']) {
      const principal = await deps.auth.authenticate(req.headers).catch(() => undefined);
      if (principal && hasScope(principal, SCOPES.admin)) {
        req.principal = principal;
        return;
      }
      if (principal) return refuse(reply, 403, `${what} needs the scope '${SCOPES.admin}'`);
    }
    void reply.header('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`);
    return refuse(reply, 401, `${what} needs ADMIN_USER/ADMIN_PASSWORD (Basic) or an admin API credential`);
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
