import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { SandboxApp } from '../http-server.js';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);

/**
 * What a write answers when the client sends `Prefer: return=minimal` (see EhrQuirks.minimalReply):
 * `empty` drops the body (Medplum), `no-resources` keeps Bundle entries' `response` but drops their
 * `resource`, and empties single-resource replies (HAPI). Errors keep their OperationOutcome.
 */
export function minimalReplies(app: SandboxApp, shape: 'empty' | 'no-resources'): void {
  app.addHook('onSend', async (req, reply, payload) => {
    const prefer = String(req.headers.prefer ?? '');
    if (!WRITE_METHODS.has(req.method) || !/\breturn=minimal\b/.test(prefer) || typeof payload !== 'string') {
      return payload;
    }
    if (reply.statusCode >= 400) return payload;
    if (shape === 'empty') return '';
    const body = JSON.parse(payload) as Bundle | Resource;
    if (body.resourceType !== 'Bundle') return '';
    for (const entry of body.entry ?? []) delete entry.resource;
    return JSON.stringify(body);
  });
}
