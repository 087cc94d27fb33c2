import { z } from 'zod';

const otlpUrl = (what: string) =>
  z.url({ protocol: /^https?$/, error: `must be an absolute http(s) URL (${what})` }).optional();

/**
 * The standard OpenTelemetry variables that decide whether traces are exported (off by default) and
 * where; spread into the one ConfigSchema so a typo is a start-up error like any other. The SDK
 * reads the rest of its standard variables itself (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES,
 * OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_*): see docs/operations.md.
 */
export const TRACING_SETTINGS = {
  /** `true` turns tracing off whatever else is set. */
  OTEL_SDK_DISABLED: z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .transform((v) => v === 'true')
    .optional(),
  /** `otlp` (OTLP/HTTP), `console` (stdout, for debugging) or `none`; unset: otlp when an endpoint is set, else off. */
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'console', 'none']).optional(),
  /** OTLP/HTTP collector base, e.g. http://otel-collector:4318 (traces go to /v1/traces). */
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpUrl('the OTLP/HTTP collector, e.g. http://otel-collector:4318'),
  /** Full OTLP/HTTP traces URL, e.g. http://otel-collector:4318/v1/traces (wins over the endpoint). */
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpUrl('the OTLP/HTTP traces URL'),
  /** `service.name` of our spans; default fhir-assess. */
  OTEL_SERVICE_NAME: z.string().min(1).max(100).optional(),
};

export interface TracingSettings {
  OTEL_SDK_DISABLED?: boolean;
  OTEL_TRACES_EXPORTER?: 'otlp' | 'console' | 'none';
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  OTEL_SERVICE_NAME?: string;
}
