import { context, propagation, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { SERVICE_VERSION } from '../version.js';

const spans = new WeakMap<FastifyRequest, Span>();

/**
 * A SERVER span per HTTP request, continuing the caller's trace from its W3C `traceparent` (an EHR
 * notifying /notify, a client calling `$assess`). The route handler runs in the span's context (set
 * in `preHandler`, after the body was read: the body stream's callbacks run outside any context we
 * could set in `onRequest`), so the queue jobs it adds carry the trace on. Registered only when
 * tracing is on.
 */
export function registerHttpTracing(app: FastifyInstance): void {
  const tracer = trace.getTracer('fhir-assess', SERVICE_VERSION);
  app.addHook('onRequest', (req, _reply, done) => {
    const route = req.routeOptions.url ?? '(unmatched)';
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const span = tracer.startSpan(
      `${req.method} ${route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method, 'http.route': route } },
      parent,
    );
    spans.set(req, span);
    done();
  });
  app.addHook('preHandler', (req, _reply, done) => {
    const span = spans.get(req);
    if (!span) return done();
    context.with(trace.setSpan(context.active(), span), done);
  });
  app.addHook('onResponse', (req, reply, done) => {
    const span = spans.get(req);
    if (span) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}
