import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { FHIR_BASE_PATH } from './constants.js';
import type { IndexedRepository } from './indexed-repository.js';

/** Behaviours of real EHRs the sandbox can imitate, so write-back paths can be tested against them. */
export interface EhrQuirks {
  /**
   * Refuse `transaction` Bundles (405 OperationOutcome `not-supported`) and leave `transaction` out of
   * the CapabilityStatement, as EHRs without transaction support do. Batches still work.
   */
  rejectTransactions?: boolean;
  /**
   * Wait this long (ms) inside every create, between a conditional create's "no match" check and the
   * insert: the window in which a slow EHR whose conditional create is not atomic lets two concurrent
   * conditional creates both insert. Off (0) by default.
   */
  createDelayMs?: number;
  /**
   * What a write answers when the client sends `Prefer: return=minimal`:
   * - `empty`: the status and headers, with an **empty body**, even for a transaction (Medplum's FHIR
   *   route does `if (prefer === 'return=minimal') return res.send()`);
   * - `no-resources`: Bundle replies keep every entry's `response` but lose `resource`; a single
   *   resource write answers with an empty body and its `Location` (the FHIR http.html reading, HAPI);
   * - absent: the preference is ignored and the resources come back (Medplum's router as is).
   */
  minimalReply?: 'empty' | 'no-resources';
  /**
   * How `requested` Subscriptions become active:
   * - `standard` (default): classic criteria Subscriptions at once (R4 has no handshake), Backport
   *   topic Subscriptions after a successful handshake (HAPI);
   * - `client-set`: never by the server; only Subscriptions a client stores as `active` deliver
   *   (Medplum: "requested" ones stay requested and never fire).
   */
  subscriptionActivation?: 'standard' | 'client-set';
}

const NOT_SUPPORTED = {
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'not-supported', details: { text: 'transaction Bundles are not supported' } }],
};

type SandboxApp = FastifyInstance<Server, IncomingMessage, ServerResponse, Logger>;

/** Installs the quirks; call before the server listens (fastify hooks). */
export function applyEhrQuirks(app: SandboxApp, repo: IndexedRepository, quirks: EhrQuirks): void {
  if (quirks.createDelayMs) delayCreates(repo, quirks.createDelayMs);
  if (quirks.rejectTransactions) rejectTransactions(app);
  if (quirks.minimalReply) minimalReplies(app, quirks.minimalReply);
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);

function minimalReplies(app: SandboxApp, shape: 'empty' | 'no-resources'): void {
  app.addHook('onSend', async (req, reply, payload) => {
    const prefer = String(req.headers.prefer ?? '');
    if (!WRITE_METHODS.has(req.method) || !/\breturn=minimal\b/.test(prefer) || typeof payload !== 'string') {
      return payload;
    }
    if (reply.statusCode >= 400) return payload; // errors keep their OperationOutcome
    if (shape === 'empty') return '';
    const body = JSON.parse(payload) as Bundle | Resource;
    if (body.resourceType !== 'Bundle') return '';
    for (const entry of body.entry ?? []) delete entry.resource;
    return JSON.stringify(body);
  });
}

function rejectTransactions(app: SandboxApp): void {
  app.addHook('preHandler', async (req, reply) => {
    const body = req.body as { resourceType?: string; type?: string } | undefined;
    const atBase = req.url.split('?')[0].replace(/\/+$/, '') === FHIR_BASE_PATH;
    if (req.method === 'POST' && atBase && body?.resourceType === 'Bundle' && body.type === 'transaction') {
      return reply.code(405).type('application/fhir+json').send(NOT_SUPPORTED);
    }
  });
  app.addHook('onSend', async (req, _reply, payload) => {
    if (req.method !== 'GET' || req.url.split('?')[0] !== `${FHIR_BASE_PATH}/metadata` || typeof payload !== 'string') {
      return payload;
    }
    const cs = JSON.parse(payload) as { rest?: { interaction?: { code: string }[] }[] };
    for (const rest of cs.rest ?? []) rest.interaction = rest.interaction?.filter((i) => i.code !== 'transaction');
    return JSON.stringify(cs);
  });
}

function delayCreates(repo: IndexedRepository, ms: number): void {
  const create = repo.createResource.bind(repo);
  const delayed = async <T extends Resource>(resource: T) => {
    await new Promise((r) => setTimeout(r, ms));
    return create(resource);
  };
  Object.assign(repo, { createResource: delayed });
}
