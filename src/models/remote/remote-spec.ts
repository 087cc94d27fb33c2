import { z } from 'zod';

/**
 * Configuration of a hosted model reached over the chat-completions protocol (an entry of `MODELS_FILE` with
 * `"type": "remote"`). Secrets are never in the file: `auth.keyEnv` / `auth.tokenEnv` name the environment
 * variable that holds them.
 */

const httpsUrl = z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' });
const ms = (max: number) => z.number().int().min(0).max(max);

export const RemoteAuthSchema = z.discriminatedUnion('type', [
  /** Azure OpenAI / Azure AI Foundry key, sent as the `api-key` header. */
  z.object({ type: z.literal('api-key'), keyEnv: z.string().min(1) }).strict(),
  /** OpenAI-compatible servers, or Entra ID tokens for Azure: `Authorization: Bearer`. */
  z.object({ type: z.literal('bearer'), tokenEnv: z.string().min(1) }).strict(),
  z.object({ type: z.literal('none') }).strict(),
]);

export const RemoteModelSpecSchema = z
  .object({
    type: z.literal('remote'),
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63'),
    /** The hosted model's version as deployed (e.g. `gpt-4o-2024-08-06`); it keys idempotent write-back. */
    version: z.string().min(1).max(64),
    title: z.string().min(1).optional(),
    mode: z.enum(['shadow', 'preliminary', 'final']).optional(),
    /**
     * `azure-openai`: {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...
     * `azure-ai-inference`: {endpoint}/models/chat/completions?api-version=... (Foundry Models; `model` in body)
     * `openai-compatible`: {endpoint}/chat/completions (endpoint includes `/v1`; `model` in body)
     */
    provider: z.enum(['azure-openai', 'azure-ai-inference', 'openai-compatible']),
    endpoint: httpsUrl,
    /** Azure deployment name (azure-openai), or the model/deployment name sent as `model` (the others). */
    deployment: z.string().min(1),
    apiVersion: z.string().min(1).optional(),
    auth: RemoteAuthSchema,
    /** Per attempt, ms. */
    timeoutMs: ms(600_000).default(60_000),
    /** Retries after the first attempt on 429, 5xx, timeouts and network errors. */
    maxRetries: z.number().int().min(0).max(10).default(3),
    /** Longest single wait honoured from Retry-After (ms); a longer one fails the attempt as retryable later. */
    maxRetryWaitMs: ms(600_000).default(30_000),
    /** Backoff base when the server gives no Retry-After (ms, doubled per attempt). */
    retryBaseMs: ms(60_000).default(500),
    breaker: z
      .object({
        /** Consecutive failed calls that open the circuit. */
        failureThreshold: z.number().int().min(1).max(1000).default(5),
        /** How long it stays open before one trial call (ms). */
        cooldownMs: ms(3_600_000).default(30_000),
      })
      .strict()
      .prefault({}),
    budget: z
      .object({
        /** Most tokens (prompt + completion, all attempts) one assessment may use. */
        maxTotalTokens: z.number().int().positive().default(60_000),
        /** Most completion tokens requested (`max_tokens`). */
        maxOutputTokens: z.number().int().positive().default(4_000),
        /** Prices for the cost estimate (USD per million tokens) and the cost cap per assessment. */
        inputUsdPerMillion: z.number().nonnegative().optional(),
        outputUsdPerMillion: z.number().nonnegative().optional(),
        maxCostUsd: z.number().positive().optional(),
      })
      .strict()
      .prefault({}),
    temperature: z.number().min(0).max(2).default(0),
    /** What the record must contain for this model (types read by record assembly). */
    resourceTypes: z.array(z.string()).min(1).default(['Patient', 'Observation', 'Condition', 'MedicationRequest']),
    lookbackYears: z.number().positive().max(100).default(5),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.provider !== 'openai-compatible' && !s.apiVersion) {
      ctx.addIssue({ code: 'custom', path: ['apiVersion'], message: `required for provider ${s.provider}` });
    }
  });

export type RemoteModelSpec = z.infer<typeof RemoteModelSpecSchema>;
