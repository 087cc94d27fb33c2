import type { Reference } from '@medplum/fhirtypes';
import { z } from 'zod';
import type { ModelOutput, ModelUsage, Prediction } from '../model.js';
import { RemoteModelError } from './errors.js';
import { PROMPT_VERSION } from './prompt.js';

/** The chat-completions response envelope (streaming off): only the fields we rely on. */
export const ChatCompletionSchema = z.object({
  choices: z
    .array(
      z.object({
        finish_reason: z.string().nullable().optional(),
        message: z.object({
          content: z.string().nullable().optional(),
          refusal: z.string().nullable().optional(),
        }),
      }),
    )
    .min(1),
  usage: z
    .object({
      prompt_tokens: z.number().int().min(0),
      completion_tokens: z.number().int().min(0),
      total_tokens: z.number().int().min(0),
    })
    .optional(),
});
export type ChatCompletion = z.infer<typeof ChatCompletionSchema>;

/** The model's answer (the message content), mirroring REPLY_JSON_SCHEMA plus the checks JSON Schema cannot make. */
export const ReplySchema = z.object({
  predictions: z
    .array(
      z.object({
        id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'lowercase letters, digits and dashes'),
        outcome: z.string().min(1).max(300),
        probability: z.number().min(0).max(1).nullable(),
        qualitativeRisk: z.enum(['negligible', 'low', 'moderate', 'high', 'certain']),
        horizonYears: z.number().positive().max(100).nullable(),
        category: z.string().max(300).nullable(),
        rationale: z.string().min(1).max(4000),
        inputsUsed: z
          .array(
            z.object({
              name: z.string().min(1).max(200),
              value: z.string().max(500),
              unit: z.string().max(50).nullable(),
              source: z
                .string()
                .regex(/^[A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/, 'a Type/id reference')
                .nullable(),
            }),
          )
          .max(200),
      }),
    )
    .max(20)
    .refine((ps) => new Set(ps.map((p) => p.id)).size === ps.length, { error: 'prediction ids must be unique' }),
  missing: z
    .array(
      z.object({
        name: z.string().min(1).max(200),
        reason: z.enum(['missing', 'stale', 'out-of-range', 'not-applicable']),
        detail: z.string().max(1000).nullable(),
      }),
    )
    .max(200),
  summary: z.string().min(1).max(8000),
});
export type Reply = z.infer<typeof ReplySchema>;

/**
 * The reply content of a completion, or a clear error: refused (`refusal` set or `finish_reason`
 * `content_filter`), truncated (`finish_reason` `length`), malformed (no content or not JSON).
 */
export function replyContent(completion: ChatCompletion): unknown {
  const choice = completion.choices[0];
  if (choice.message.refusal) throw new RemoteModelError('refused', 'the model refused to answer (refusal field set)');
  if (choice.finish_reason === 'content_filter')
    throw new RemoteModelError('refused', 'the reply was blocked by the content filter');
  if (choice.finish_reason === 'length')
    throw new RemoteModelError('truncated', 'the reply was cut off at the token limit (finish_reason length)');
  if (!choice.message.content) throw new RemoteModelError('malformed', 'the reply has no content');
  try {
    return JSON.parse(choice.message.content);
  } catch {
    throw new RemoteModelError('malformed', 'the reply content is not valid JSON');
  }
}

/** Validates the parsed content and that every cited source is a resource of the record. */
export function validateReply(content: unknown, recordRefs: ReadonlySet<string>): Reply {
  const parsed = ReplySchema.safeParse(content);
  if (!parsed.success) {
    const where = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new RemoteModelError('schema', `the reply does not match the response schema: ${where.join('; ')}`);
  }
  const unknown = parsed.data.predictions
    .flatMap((p) => p.inputsUsed.map((u) => u.source))
    .filter((s) => s && !recordRefs.has(s));
  if (unknown.length > 0) {
    throw new RemoteModelError('schema', `the reply cites ${unknown.length} resource(s) that are not in the record`);
  }
  return parsed.data;
}

/** Maps a validated reply to the ModelOutput every model returns. */
export function toModelOutput(reply: Reply, model: { id: string; version: string }, usage?: ModelUsage): ModelOutput {
  const predictions = reply.predictions.map(
    (p): Prediction => ({
      calculator: p.id,
      outcome: { text: p.outcome },
      probability: p.probability ?? undefined,
      qualitativeRisk: p.qualitativeRisk,
      horizonYears: p.horizonYears ?? undefined,
      category: p.category ?? undefined,
      method: `hosted model ${model.id}@${model.version}, prompt ${PROMPT_VERSION}`,
      rationale: p.rationale,
      inputsUsed: p.inputsUsed.map((u) => ({
        name: u.name,
        value: u.value,
        unit: u.unit ?? undefined,
        source: u.source ?? undefined,
      })),
    }),
  );
  const basis = [
    ...new Set(predictions.flatMap((p) => p.inputsUsed.map((u) => u.source)).filter((s): s is string => !!s)),
  ];
  return {
    modelId: model.id,
    modelVersion: model.version,
    predictions,
    missing: reply.missing.map((m) => ({
      calculator: model.id,
      name: m.name,
      reason: m.reason,
      detail: m.detail ?? undefined,
    })),
    exclusions: [],
    summary: reply.summary,
    basis: basis.map((reference): Reference => ({ reference })),
    usage,
  };
}
