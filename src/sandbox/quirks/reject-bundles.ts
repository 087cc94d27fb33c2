import type { CapabilityStatement } from '@medplum/fhirtypes';
import { errorOutcome, type SandboxContext } from '../context.js';
import type { SandboxApp } from '../http-server.js';
import { postedBundleType } from './request-kind.js';

/**
 * Refuses `transaction` and/or `batch` Bundles POSTed to the base (405 OperationOutcome
 * `not-supported`) and leaves those interactions out of the CapabilityStatement, as EHRs without
 * them do. Clients must then fall back to single requests.
 */
export function rejectBundles(app: SandboxApp, ctx: SandboxContext, types: readonly ('transaction' | 'batch')[]): void {
  const refused = new Set<string>(types);
  app.addHook('preHandler', async (req, reply) => {
    const type = postedBundleType(req);
    if (type && refused.has(type)) {
      const outcome = errorOutcome('not-supported', `${type} Bundles are not supported`);
      return reply.code(405).type('application/fhir+json').send(outcome);
    }
  });
  ctx.capabilityEdits.push((cs: CapabilityStatement) => {
    for (const rest of cs.rest ?? []) rest.interaction = rest.interaction?.filter((i) => !refused.has(i.code));
  });
}
