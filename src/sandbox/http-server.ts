import { badRequest, getStatus, normalizeOperationOutcome } from '@medplum/core';
import type { FhirRouter, HttpMethod } from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { addBatchPagingLinks, prepareBatchSearches } from './batch-paging.js';
import { type BulkExportOptions, registerBulkExport } from './bulk-export.js';
import { BODY_LIMIT_BYTES, DEFAULT_SEARCH_COUNT, FHIR_BASE_PATH } from './constants.js';
import type { SandboxContext } from './context.js';
import { addFullUrls, addPagingLinks, normalizePageParams, type PageWindow } from './paging.js';

const FHIR_JSON = 'application/fhir+json';

/** A request rewritten for the router, plus the paging window when it is a type search. */
interface Forward {
  method: HttpMethod;
  url: string;
  body: unknown;
  search?: { path: string; params: URLSearchParams; window: PageWindow };
}

/**
 * Fastify app serving the FHIR API at `/fhir/R4`: JSON bodies are parsed as raw strings (bad JSON is
 * a 400 OperationOutcome), every method under the base goes to the FhirRouter, type searches get
 * default/clamped `_count` and `self`/`next` links, and single-resource responses get
 * `ETag`/`Last-Modified` (+ `Location` on 201). Errors carrying an `outcome` answer with it.
 */
export function createHttpServer(
  ctx: SandboxContext,
  router: FhirRouter,
  opts: { bulkExport?: BulkExportOptions } = {},
) {
  const app = Fastify({
    loggerInstance: ctx.logger,
    logController: new LogController({ disableRequestLogging: true }), // one log line per request is too noisy
    bodyLimit: BODY_LIMIT_BYTES,
  });
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(['application/json', FHIR_JSON], { parseAs: 'string' }, (_req, body, done) => {
    const text = (body as string).trim();
    if (!text) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(Object.assign(new Error(`Invalid JSON body: ${(err as Error).message}`), { statusCode: 400 }));
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.setErrorHandler((err: Error & { statusCode?: number; outcome?: OperationOutcome }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    const outcome = err.outcome ?? (status === 400 ? badRequest(err.message) : normalizeOperationOutcome(err));
    void reply.code(status).type(FHIR_JSON).send(outcome);
  });
  registerBulkExport(app as unknown as FastifyInstance, ctx, opts.bulkExport); // raw HTTP (202, headers, NDJSON): not router routes
  const handler = (req: FastifyRequest, reply: FastifyReply) => handle(ctx, router, req, reply);
  app.all(FHIR_BASE_PATH, handler);
  app.all(`${FHIR_BASE_PATH}/*`, handler);
  return app;
}

/** The sandbox's fastify app, as quirks see it when they add hooks and routes. */
export type SandboxApp = ReturnType<typeof createHttpServer>;

async function handle(ctx: SandboxContext, router: FhirRouter, req: FastifyRequest, reply: FastifyReply) {
  let relative = req.url.slice(FHIR_BASE_PATH.length).replace(/^\/+/, '');
  if (ctx.rewriteUrl) {
    const rewritten = ctx.rewriteUrl(relative);
    if (typeof rewritten !== 'string') return reply.code(rewritten.status).type(FHIR_JSON).send(rewritten.outcome);
    relative = rewritten;
  }
  const fwd = toForward(router, req, relative);
  const batchSearches = fwd.method === 'POST' && !fwd.search ? prepareBatchSearches(router, fwd.body) : undefined;
  const [outcome, resource] = await router.handleRequest(
    { method: fwd.method, url: fwd.url, pathname: '', body: fwd.body, params: {}, query: {}, headers: req.headers },
    ctx.repo,
  );
  const status = getStatus(outcome);
  let body: Resource = resource ?? outcome;
  if (fwd.search && body.resourceType === 'Bundle' && body.type === 'searchset') {
    body = addPagingLinks(
      addFullUrls(body, ctx.baseUrl),
      ctx.baseUrl,
      fwd.search.path,
      fwd.search.params,
      fwd.search.window,
    );
  }
  if (batchSearches && body.resourceType === 'Bundle') body = addBatchPagingLinks(body, batchSearches, ctx.baseUrl);
  setResourceHeaders(reply, ctx.baseUrl, status, body);
  return reply.code(status).type(FHIR_JSON).send(body);
}

/**
 * `relative` is the URL below the base (after `ctx.rewriteUrl`). Type searches (`GET Type?...`,
 * `POST Type/_search`) become a GET with the effective `_count`/`_offset`, so links and results agree.
 */
function toForward(router: FhirRouter, req: FastifyRequest, relative: string): Forward {
  const method = req.method as HttpMethod;
  const q = relative.indexOf('?');
  const path = q >= 0 ? relative.slice(0, q) : relative;
  const route = router.find(method, relative);
  if (route?.data?.interaction !== 'search-type' || !path) return { method, url: relative, body: req.body };
  const params = new URLSearchParams(q >= 0 ? relative.slice(q + 1) : '');
  if (method === 'POST' && req.body && typeof req.body === 'object') {
    for (const [key, value] of Object.entries(req.body as Record<string, string>)) params.append(key, String(value));
  }
  const typePath = path.replace(/\/_search$/, '');
  const window = normalizePageParams(params, DEFAULT_SEARCH_COUNT);
  return { method: 'GET', url: `${typePath}?${params}`, body: undefined, search: { path: typePath, params, window } };
}

/** `ETag`, `Last-Modified` and (on 201) `Location` for responses carrying one versioned resource. */
function setResourceHeaders(reply: FastifyReply, baseUrl: string, status: number, body: Resource): void {
  if (isBundleOrOutcome(body) || !body.id || !body.meta?.versionId) return;
  void reply.header('ETag', `W/"${body.meta.versionId}"`);
  if (body.meta.lastUpdated) void reply.header('Last-Modified', new Date(body.meta.lastUpdated).toUTCString());
  if (status === 201) {
    void reply.header('Location', `${baseUrl}/${body.resourceType}/${body.id}/_history/${body.meta.versionId}`);
  }
}

function isBundleOrOutcome(body: Resource): body is Bundle | OperationOutcome {
  return body.resourceType === 'Bundle' || body.resourceType === 'OperationOutcome';
}
