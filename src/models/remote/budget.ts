import type { ModelUsage } from '../model.js';
import { RemoteModelError } from './errors.js';

export interface BudgetLimits {
  maxTotalTokens: number;
  maxOutputTokens: number;
  inputUsdPerMillion?: number;
  outputUsdPerMillion?: number;
  maxCostUsd?: number;
}

/** Rough prompt size: ~4 characters per token for JSON/English (used only to refuse hopeless requests early). */
const CHARS_PER_TOKEN = 4;

/** Estimated prompt tokens of a request body. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / CHARS_PER_TOKEN);
}

/**
 * The token/cost budget of one assessment (one job). `plan` refuses a request that cannot fit and sizes
 * `max_tokens`; `charge` adds the `usage` the server reports and fails once the budget is exceeded, so an
 * over-budget reply is discarded (nothing written).
 */
export class JobBudget {
  private used: ModelUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };

  constructor(private readonly limits: BudgetLimits) {}

  /** Completion tokens to request for a prompt of `promptTokens` (estimated). @throws RemoteModelError `budget` */
  plan(promptTokens: number): number {
    const left = this.limits.maxTotalTokens - this.used.totalTokens - promptTokens;
    if (left <= 0) {
      throw new RemoteModelError(
        'budget',
        `token budget: the prompt (~${promptTokens} tokens) leaves nothing of ${this.limits.maxTotalTokens} tokens per assessment`,
      );
    }
    return Math.min(this.limits.maxOutputTokens, left);
  }

  /** Adds one reply's usage. @throws RemoteModelError `budget` when tokens or cost exceed the limits */
  charge(usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number }): ModelUsage {
    const u = this.used;
    u.promptTokens += usage.prompt_tokens;
    u.completionTokens += usage.completion_tokens;
    u.totalTokens += usage.total_tokens;
    const { inputUsdPerMillion: inPrice, outputUsdPerMillion: outPrice, maxCostUsd } = this.limits;
    if (inPrice !== undefined || outPrice !== undefined) {
      u.costUsd = (u.promptTokens * (inPrice ?? 0) + u.completionTokens * (outPrice ?? 0)) / 1_000_000;
    }
    if (u.totalTokens > this.limits.maxTotalTokens) {
      throw new RemoteModelError(
        'budget',
        `token budget exceeded: ${u.totalTokens} > ${this.limits.maxTotalTokens} tokens`,
      );
    }
    if (maxCostUsd !== undefined && (u.costUsd ?? 0) > maxCostUsd) {
      throw new RemoteModelError('budget', `cost budget exceeded: $${u.costUsd?.toFixed(4)} > $${maxCostUsd}`);
    }
    return { ...u };
  }
}
