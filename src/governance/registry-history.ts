import type { ModelHistoryEntry, ModelHistorySource } from '../console/model-history.js';
import { queryAudit } from './audit-query.js';
import type { Queryable } from './audit-trail.js';
import { listVersions } from './model-registry-store.js';

/** Most promotions and recalls shown per model on the console. */
const MAX_STEPS = 200;

/**
 * The console's Models history from the model registry: every recorded promotion, retirement and
 * recall of the model's versions (from the audit trail, oldest first: who, when, why, on what
 * evidence), then each version's mode now. Versions never promoted show their configured mode.
 */
export class RegistryModelHistory implements ModelHistorySource {
  constructor(private readonly db: Queryable) {}

  async history(modelId: string): Promise<ModelHistoryEntry[]> {
    const acts = await queryAudit(this.db, { model: modelId, action: ['promotion', 'recall'] }, MAX_STEPS);
    const steps = acts.map(({ entry }): ModelHistoryEntry => {
      const detail = (entry.detail ?? {}) as { evidence?: string; reason?: string };
      return {
        modelId,
        version: (entry.model ?? '').slice(modelId.length + 1),
        mode: shown(entry.mode),
        at: entry.recorded,
        by: entry.actor,
        reason: detail.reason,
        evidence: detail.evidence,
      };
    });
    const now = (await listVersions(this.db, modelId))
      .filter((v) => !v.explicit)
      .map(
        (v): ModelHistoryEntry => ({
          modelId,
          version: v.version,
          mode: shown(v.mode),
          at: v.firstSeen,
          reason: 'as configured (MODELS_FILE / MODEL_MODE); no promotion recorded',
        }),
      );
    return [...now, ...steps];
  }
}

function shown(mode: string | undefined): ModelHistoryEntry['mode'] {
  return mode === 'shadow' || mode === 'preliminary' || mode === 'final' || mode === 'recalled' ? mode : 'retired';
}
