import { setTimeout as delay } from 'node:timers/promises';
import type { Model, ModelContext, ModelOutput, PatientRecord } from '../model.js';
import { estimateTokens, JobBudget } from './budget.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { RemoteModelError } from './errors.js';
import { type HttpDeps, postWithRetries } from './http.js';
import { buildMessages, PROMPT_VERSION, REPLY_JSON_SCHEMA } from './prompt.js';
import type { RemoteModelSpec } from './remote-spec.js';
import { ChatCompletionSchema, replyContent, toModelOutput, validateReply } from './reply.js';

/** The spec plus the secret resolved from the environment (see registry-config.ts). */
export type RemoteModelConfig = RemoteModelSpec & { secret?: string };

/** The request URL for the configured provider. */
export function completionsUrl(spec: RemoteModelSpec): string {
  const base = spec.endpoint.replace(/\/+$/, '');
  const version = spec.apiVersion ? `?api-version=${encodeURIComponent(spec.apiVersion)}` : '';
  if (spec.provider === 'azure-openai') {
    return `${base}/openai/deployments/${encodeURIComponent(spec.deployment)}/chat/completions${version}`;
  }
  if (spec.provider === 'azure-ai-inference') return `${base}/models/chat/completions${version}`;
  return `${base}/chat/completions${version}`;
}

function headers(spec: RemoteModelConfig): Record<string, string> {
  const h: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (spec.auth.type === 'api-key' && spec.secret) h['api-key'] = spec.secret;
  if (spec.auth.type === 'bearer' && spec.secret) h.authorization = `Bearer ${spec.secret}`;
  return h;
}

/** The chat-completions request: record + versioned prompt, strict JSON-schema output, streaming off. */
function requestBody(spec: RemoteModelConfig, record: PatientRecord, asOf: Date, maxTokens: number): string {
  return JSON.stringify({
    ...(spec.provider === 'azure-openai' ? {} : { model: spec.deployment }),
    messages: buildMessages(record.bundle, asOf),
    response_format: {
      type: 'json_schema',
      json_schema: { name: 'fhir_assess_risk_output', strict: true, schema: REPLY_JSON_SCHEMA },
    },
    temperature: spec.temperature,
    max_tokens: maxTokens,
    stream: false,
  });
}

/** `Type/id` of every resource in the record: the only references a reply may cite. */
function recordRefs(record: PatientRecord): Set<string> {
  return new Set((record.bundle.entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`));
}

/** Turns a non-2xx final reply into the matching error (Azure's prompt content filter is a refusal). */
function httpError(status: number, text: string): RemoteModelError {
  if (status === 400 && /content_filter/.test(text)) {
    return new RemoteModelError('refused', 'the request was blocked by the content filter', status);
  }
  return new RemoteModelError('http', `model endpoint answered HTTP ${status}`, status);
}

export interface RemoteModelDeps extends Partial<HttpDeps> {}

/**
 * A hosted model behind the chat-completions protocol (Azure OpenAI, Azure AI Foundry Models, or any
 * OpenAI-compatible server). It only ever receives de-identified records (`mayReceiveIdentifiedData: false`;
 * a record not marked `deidentified` is refused before any request), validates the reply with zod and maps it
 * to a ModelOutput. Any failure throws a RemoteModelError and yields no output, so nothing is written.
 */
export function createRemoteModel(spec: RemoteModelConfig, deps: RemoteModelDeps = {}): Model {
  const http: HttpDeps = {
    fetch: deps.fetch ?? fetch,
    sleep: deps.sleep ?? ((ms) => delay(ms)),
    now: deps.now ?? Date.now,
  };
  const breaker = new CircuitBreaker(spec.breaker.failureThreshold, spec.breaker.cooldownMs, http.now);
  const version = `${spec.version}+${PROMPT_VERSION}`;
  const url = completionsUrl(spec);

  async function call(record: PatientRecord, asOf: Date, budget: JobBudget): Promise<ModelOutput> {
    const maxTokens = budget.plan(estimateTokens(requestBody(spec, record, asOf, 0)));
    breaker.admit();
    let reply: Awaited<ReturnType<typeof postWithRetries>>;
    try {
      reply = await postWithRetries(
        url,
        { method: 'POST', headers: headers(spec), body: requestBody(spec, record, asOf, maxTokens) },
        spec,
        http,
      );
    } catch (err) {
      breaker.failure();
      throw err;
    }
    breaker.success(); // the endpoint answered; what it said is judged below
    if (reply.status < 200 || reply.status > 299) throw httpError(reply.status, reply.text);
    let envelope: unknown;
    try {
      envelope = JSON.parse(reply.text);
    } catch {
      throw new RemoteModelError('malformed', 'the response body is not JSON');
    }
    const completion = ChatCompletionSchema.safeParse(envelope);
    if (!completion.success) throw new RemoteModelError('malformed', 'the response is not a chat completion');
    const usage = completion.data.usage ? budget.charge(completion.data.usage) : undefined;
    const content = replyContent(completion.data);
    return toModelOutput(validateReply(content, recordRefs(record)), { id: spec.id, version }, usage);
  }

  return {
    id: spec.id,
    version,
    title: spec.title ?? `Hosted model ${spec.deployment}`,
    requires: { resourceTypes: spec.resourceTypes, lookbackYears: spec.lookbackYears },
    mayReceiveIdentifiedData: false,
    async assess(record: PatientRecord, context: ModelContext): Promise<ModelOutput> {
      if (record.deidentified !== true) {
        throw new RemoteModelError('not-deidentified', `model ${spec.id} only accepts de-identified records`);
      }
      return call(record, context.asOf, new JobBudget(spec.budget));
    },
  };
}
