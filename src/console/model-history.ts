import type { RegisteredModel } from '../models/registry.js';

/** One step of a model version's life: a mode it entered, when, why, and the evidence cited. */
export interface ModelHistoryEntry {
  modelId: string;
  version: string;
  mode: 'shadow' | 'preliminary' | 'final' | 'retired' | 'recalled';
  /** ISO instant; absent for "as configured now". */
  at?: string;
  /** Who made the change and why, when the source knows. */
  by?: string;
  reason?: string;
  /** Validation report id cited as evidence (a promotion's justification). */
  evidence?: string;
}

/**
 * Where the Models page reads each version's mode history. The default knows only the configuration
 * the process started with; the governance work (issue 11: model registry with promotions) plugs its
 * registry in here without touching the page.
 */
export interface ModelHistorySource {
  history(modelId: string): Promise<ModelHistoryEntry[]>;
}

/** The modes as configured now (MODELS_FILE / MODEL_MODE): one entry per model, no past. */
export class ConfiguredModelHistory implements ModelHistorySource {
  constructor(private readonly registered: readonly RegisteredModel[]) {}

  async history(modelId: string): Promise<ModelHistoryEntry[]> {
    return this.registered
      .filter((r) => r.model.id === modelId)
      .map((r) => ({
        modelId,
        version: r.model.version,
        mode: r.mode,
        reason: 'as configured at start-up (MODELS_FILE / MODEL_MODE); no promotion history is recorded',
      }));
  }
}
