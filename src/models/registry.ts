import { createEmbeddedModel } from './embedded-model.js';
import type { Model } from './model.js';
import type { Mode, ModelSpec } from './registry-config.js';
import { createRemoteModel, type RemoteModelDeps } from './remote/chat-completions-model.js';

/** One model the service runs, with its deployment mode (shadow: compute, never write to the EHR). */
export type RegisteredModel = { model: Model; mode: 'shadow' | 'preliminary' | 'final' };

/** Builds one Model from its validated spec. */
export function modelFromSpec(spec: ModelSpec, deps: RemoteModelDeps = {}): Model {
  if (spec.type === 'remote') return createRemoteModel(spec, deps);
  return createEmbeddedModel({
    id: spec.id,
    title: spec.title,
    calculators: spec.calculators ?? 'all',
    params: spec.parameters,
  });
}

/**
 * The models to run, from the validated configuration (`cfg.models`, see loadModelSpecs: MODELS_FILE plus the
 * MODELS / MODEL_MODE overrides). Without a models file this is the embedded library with every calculator.
 * @param deps - injectable fetch/sleep/clock for hosted models (tests)
 */
export function buildModelRegistry(
  cfg: { models: readonly ModelSpec[] },
  deps: RemoteModelDeps = {},
): RegisteredModel[] {
  return cfg.models.map((spec) => ({ model: modelFromSpec(spec, deps), mode: spec.mode as Mode }));
}

/** Models in the registry that can run offline (no endpoint): what `fhir-assess score` runs. */
export function offlineModels(registry: readonly RegisteredModel[]): RegisteredModel[] {
  return registry.filter((r) => r.model.mayReceiveIdentifiedData);
}
