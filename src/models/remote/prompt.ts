import type { Bundle } from '@medplum/fhirtypes';

/**
 * The versioned prompt and the JSON schema the hosted model must answer with. Changing either changes what the
 * model says, so `PROMPT_VERSION` is part of the model version (and hence of the write-back idempotency key).
 */
export const PROMPT_VERSION = 'risk-v1';

export const SYSTEM_PROMPT = `You are a clinical risk-assessment model inside an EHR integration (fhir-assess ${PROMPT_VERSION}).
You receive one de-identified patient's FHIR R4 record as a JSON Bundle and an as-of date.
Estimate the clinically relevant risks you can support from the record, as of that date.
Rules:
- Use only facts present in the record. Cite every input you use by its resource reference "Type/id" from the record.
- Give probability as a fraction between 0 and 1 only when you can justify a calibrated estimate; otherwise null.
- qualitativeRisk is one of negligible, low, moderate, high, certain.
- List inputs you needed but could not find (or that were too old) under "missing" instead of guessing them.
- Do not include names, identifiers or free text copied from the record.
Answer with JSON that matches the response schema exactly.`;

const nullable = (type: string) => ({ type: [type, 'null'] });

/** JSON Schema of the reply, for `response_format: { type: 'json_schema' }` in strict mode. */
export const REPLY_JSON_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['predictions', 'missing', 'summary'],
  properties: {
    predictions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: [
          'id',
          'outcome',
          'probability',
          'qualitativeRisk',
          'horizonYears',
          'category',
          'rationale',
          'inputsUsed',
        ],
        properties: {
          id: { type: 'string', description: 'short lowercase id with dashes, e.g. "readmission-30d"' },
          outcome: { type: 'string', description: 'the predicted outcome in plain words' },
          probability: { ...nullable('number'), description: 'fraction 0–1, or null' },
          qualitativeRisk: { type: 'string', enum: ['negligible', 'low', 'moderate', 'high', 'certain'] },
          horizonYears: { ...nullable('number'), description: 'years from the as-of date, or null' },
          category: nullable('string'),
          rationale: { type: 'string' },
          inputsUsed: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name', 'value', 'unit', 'source'],
              properties: {
                name: { type: 'string' },
                value: { type: 'string' },
                unit: nullable('string'),
                source: { ...nullable('string'), description: 'Type/id of the resource in the record' },
              },
            },
          },
        },
      },
    },
    missing: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'reason', 'detail'],
        properties: {
          name: { type: 'string' },
          reason: { type: 'string', enum: ['missing', 'stale', 'out-of-range', 'not-applicable'] },
          detail: nullable('string'),
        },
      },
    },
    summary: { type: 'string' },
  },
} as const;

/** The chat messages: the system prompt, then the record and as-of date as one JSON user message. */
export function buildMessages(bundle: Bundle, asOf: Date): { role: 'system' | 'user'; content: string }[] {
  const payload = { promptVersion: PROMPT_VERSION, asOf: asOf.toISOString().slice(0, 10), record: bundle };
  return [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: JSON.stringify(payload) },
  ];
}
