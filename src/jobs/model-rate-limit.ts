import type { Model } from '../models/model.js';
import type { BucketLimit, RateLimiter } from './rate-limiter.js';

/** Longest a model call waits for its endpoint's token before the job attempt fails (ms). */
const MAX_MODEL_WAIT_MS = 60_000;

/** Thrown when a model endpoint's rate limit kept a call waiting too long (retryable: the job retries later). */
export class ModelRateLimitedError extends Error {
  constructor(modelId: string) {
    super(`model ${modelId}: rate limit (MODEL_RATE_LIMIT) still exhausted after ${MAX_MODEL_WAIT_MS / 1000} s`);
    this.name = 'ModelRateLimitedError';
  }
}

/**
 * The same model, with every `assess` call taking a token from the `model:{id}` bucket first, so all
 * workers together stay under the endpoint's limit. The embedded model needs none (in-process); a
 * hosted model's quota is what this protects.
 */
export function withModelRateLimit(model: Model, limiter: RateLimiter, limit: BucketLimit): Model {
  if (limit.rate <= 0) return model;
  const assess: Model['assess'] = async (record, context) => {
    if (!(await limiter.acquire(`model:${model.id}`, limit, MAX_MODEL_WAIT_MS)))
      throw new ModelRateLimitedError(model.id);
    return model.assess(record, context);
  };
  // Inherit everything else (including getters or extra fields of a model class) from the original.
  return Object.assign(Object.create(model) as Model, { assess });
}
