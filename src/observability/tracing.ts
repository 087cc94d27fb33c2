import {
  type Attributes,
  context,
  INVALID_SPAN_CONTEXT,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { BullMQOtel } from 'bullmq-otel';
import type { TracingSettings } from '../config/tracing-settings.js';
import { SERVICE_VERSION } from '../version.js';

/**
 * OpenTelemetry tracing, off unless the standard OTEL_* variables ask for it (tracing-settings.ts).
 * Off, nothing is registered: spans are the API's no-op, BullMQ gets no telemetry (it then skips its
 * own tracing entirely), no HTTP hooks are added and logs carry no trace fields.
 * On, one trace follows a change from the EHR's `traceparent` on /notify through intake, the events
 * and assess jobs (BullMQ carries the context in each job's options, across processes), every EHR
 * request (which carries our `traceparent`), the model call and the write-back transaction.
 */
let provider: NodeTracerProvider | undefined;
let bullmq: BullMQOtel | undefined;

const TRACER = 'fhir-assess';
/** What `inSpan` hands its callback when tracing is off: records nothing. */
const NO_SPAN = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

export interface RunningTracing {
  /** Flushes the spans still buffered and stops the exporter (call at shutdown). */
  shutdown(): Promise<void>;
}

/** Which exporter the settings ask for, or undefined: tracing off (the default). */
export function tracesExporterOf(s: TracingSettings): 'otlp' | 'console' | undefined {
  if (s.OTEL_SDK_DISABLED) return undefined;
  if (s.OTEL_TRACES_EXPORTER === 'none') return undefined;
  if (s.OTEL_TRACES_EXPORTER) return s.OTEL_TRACES_EXPORTER;
  return s.OTEL_EXPORTER_OTLP_ENDPOINT || s.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? 'otlp' : undefined;
}

/**
 * Registers the tracer provider when the settings turn tracing on (or when `exporter` is given: tests
 * pass an in-memory one). The OTLP/HTTP exporter, the batch processor and the sampler read their
 * standard variables (OTEL_EXPORTER_OTLP_*, OTEL_BSP_*, OTEL_TRACES_SAMPLER) themselves.
 */
export function startTracing(
  settings: TracingSettings,
  opts: { exporter?: SpanExporter; role?: string } = {},
): RunningTracing {
  const kind = opts.exporter ? 'given' : tracesExporterOf(settings);
  if (!kind || provider) return { shutdown: async () => {} };
  const exporter = opts.exporter ?? (kind === 'console' ? new ConsoleSpanExporter() : new OTLPTraceExporter());
  const resource = resourceFromAttributes({
    'service.name': settings.OTEL_SERVICE_NAME ?? 'fhir-assess',
    'service.version': SERVICE_VERSION,
    ...(opts.role ? { 'fhir_assess.role': opts.role } : {}),
  }).merge(detectResources({ detectors: [envDetector] })); // OTEL_RESOURCE_ATTRIBUTES win
  const processor = opts.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter);
  const registered = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  registered.register(); // AsyncLocalStorage context, W3C trace-context + baggage propagation
  provider = registered;
  bullmq = new BullMQOtel({ tracerName: 'bullmq', version: SERVICE_VERSION });
  return {
    shutdown: async () => {
      if (provider !== registered) return;
      await registered.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
      provider = undefined;
      bullmq = undefined;
    },
  };
}

export function tracingEnabled(): boolean {
  return provider !== undefined;
}

/** BullMQ's telemetry for every Queue and Worker (undefined when off: BullMQ then traces nothing). */
export function queueTelemetry(): BullMQOtel | undefined {
  return bullmq;
}

/**
 * Runs `fn` in a new active span (a child of the current one); the span ends with `fn`, recording an
 * exception and an error status when it throws. Off: `fn` runs directly with a no-op span.
 */
export async function inSpan<T>(
  /** The span name, or a function computing it (only called when tracing is on). */
  name: string | (() => string),
  fn: (span: Span) => Promise<T>,
  opts: { kind?: SpanKind; attributes?: Attributes } = {},
): Promise<T> {
  if (!provider) return fn(NO_SPAN);
  return trace
    .getTracer(TRACER, SERVICE_VERSION)
    .startActiveSpan(
      typeof name === 'string' ? name : name(),
      { kind: opts.kind ?? SpanKind.INTERNAL, attributes: opts.attributes },
      async (span) => {
        try {
          return await fn(span);
        } catch (err) {
          span.recordException(err as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
          throw err;
        } finally {
          span.end();
        }
      },
    );
}

/** The W3C `traceparent` (and `tracestate`) of the active span, to send with an outgoing request. */
export function traceHeaders(): Record<string, string> {
  if (!provider) return {};
  const headers: Record<string, string> = {};
  propagation.inject(context.active(), headers);
  return headers;
}

/** `trace_id` and `span_id` of the active span for log lines (empty when off or outside a span). */
export function traceLogFields(): Record<string, string> {
  if (!provider) return {};
  const ctx = trace.getSpan(context.active())?.spanContext();
  return ctx && ctx.traceId !== INVALID_SPAN_CONTEXT.traceId ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
}
