import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { NotificationError } from '../intake/notification.js';
import { registerHttpTracing } from '../observability/http-tracing.js';
import { tracingEnabled } from '../observability/tracing.js';
import type { ApiDeps } from './api-deps.js';
import { ApiError } from './api-error.js';
import { apiRoutes } from './api-routes.js';
import { type NotifyDeps, notifyRoutes } from './notify-routes.js';
import { issueCodeFor, outcome } from './operation-outcome.js';
import { echoRequestId, genReqId } from './request-id.js';

export interface AppDeps extends NotifyDeps {
  logger: Logger;
  bodyLimit: number;
  /** Readiness probe: resolves when Redis (and the EHR) are reachable. */
  ready: () => Promise<{ ok: boolean; checks: Record<string, string> } & Record<string, unknown>>;
  /** The FHIR API, CDS Hooks, /metrics and the dashboard (absent: intake and health only). */
  api?: ApiDeps;
}

const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json+fhir'];

/** The notification routes, whose access log is their own one line. */
const isNotify = (req: { url: string }) => req.url === '/notify' || req.url.startsWith('/notify/');

/** Builds the HTTP app (tests call it with `inject`; `serve` calls `listen`). */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as unknown as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit,
    genReqId,
    // /notify logs one line per notification itself ("notification accepted", or the refusal below)
    // instead of fastify's two request lines: a third of the log volume on the busiest route (issue 13).
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: isNotify }),
    // The router's own refusals (bad percent-encoding, a path parameter over maxParamLength) bypass
    // the error handler: answer them as OperationOutcomes too. Over-long ids are invalid ids: 400.
    frameworkErrors: (err, _req, reply: FastifyReply) => {
      const message =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH'
          ? 'a path segment is longer than 100 characters; a FHIR id has at most 64'
          : `the URL is not valid: ${err.code === 'FST_ERR_BAD_URL' ? 'bad percent-encoding' : err.message}`;
      void reply
        .code(400)
        .type('application/fhir+json')
        .send(outcome('error', 'invalid', message));
    },
  }) as unknown as FastifyInstance;
  if (tracingEnabled()) registerHttpTracing(app);
  app.addHook('onSend', echoRequestId);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    (req as unknown as { rawBody: string }).rawBody = text; // kept for HMAC signatures
    if (text.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new NotificationError(400, 'request body is not valid JSON'), undefined);
    }
  });
  app.addContentTypeParser('*', (req, payload, done) => {
    // An empty POST (classic rest-hook without payload) may come with any or no content type.
    if (Number(req.headers['content-length'] ?? 0) === 0 && !req.headers['transfer-encoding'])
      return done(null, undefined);
    payload.resume();
    done(
      new NotificationError(
        415,
        `content type '${req.headers['content-type'] ?? ''}' is not supported; send application/fhir+json`,
        'not-supported',
      ),
      undefined,
    );
  });
  app.setErrorHandler((err: FastifyError | NotificationError, req, reply) => {
    const status = err instanceof NotificationError ? err.status : (err.statusCode ?? 500);
    if (status >= 500) req.log.error({ err }, 'request failed');
    else if (isNotify(req)) req.log.info({ status, reason: err.message }, 'notification refused');
    const known = err instanceof NotificationError;
    const message =
      known || status < 500 || err instanceof ApiError
        ? err.message
        : req.url.startsWith('/notify')
          ? 'internal error; the notification was not accepted, please retry'
          : 'internal error; retry, and if it persists report it with this request id (the service log has the details)';
    const code = known ? (err as NotificationError).code : issueCodeFor(status);
    reply
      .code(status)
      .type('application/fhir+json')
      .send(outcome('error', code, message));
  });
  app.setNotFoundHandler((req, reply) => {
    reply
      .code(404)
      .type('application/fhir+json')
      .send(outcome('error', 'not-found', `no route ${req.method} ${req.url.split('?')[0]}`));
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = await deps.ready();
    return reply.code(r.ok ? 200 : 503).send(r);
  });
  await notifyRoutes(app, deps);
  if (deps.api) await apiRoutes(app, deps.api);
  return app;
}
