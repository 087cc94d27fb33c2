import { type DestinationStream, type Logger, pino } from 'pino';
import { traceLogFields } from '../observability/tracing.js';

/**
 * Structured logs with PHI redaction. We log ids and references only; the redact paths are a second
 * line of defence for anything that slips through (bodies, names, tokens).
 */
export function createLogger(level = 'info', name = 'fhir-assess', destination?: DestinationStream): Logger {
  const options = {
    name,
    level,
    // trace_id / span_id of the active span when tracing is on (nothing when off).
    mixin: traceLogFields,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-signature"]',
        'headers.authorization',
        '*.authorization',
        'body',
        'resource',
        '*.resource',
        'bundle',
        '*.name',
        '*.birthDate',
        '*.address',
        '*.telecom',
      ],
      censor: '[redacted]',
    },
  } satisfies Parameters<typeof pino>[0];
  // `destination` (tests, log shippers): where the JSON lines go; default stdout.
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
