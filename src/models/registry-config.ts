import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CALCULATOR_IDS, isCalculatorId } from './calculators/index.js';
import { CalculatorParamsSchema } from './calculators/params.js';
import { EMBEDDED_MODEL_ID } from './embedded-model.js';
import { RemoteModelSpecSchema } from './remote/remote-spec.js';

/**
 * The models file (`MODELS_FILE`, JSON) and its environment overrides: which models run, their parameters and
 * deployment mode. Validated with zod; problems are returned, not thrown, so `loadConfig` reports every bad
 * setting at once.
 */

export const ModeSchema = z.enum(['shadow', 'preliminary', 'final']);
export type Mode = z.infer<typeof ModeSchema>;

const modelId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and dashes, at most 63');

export const EmbeddedModelSpecSchema = z
  .object({
    type: z.literal('embedded'),
    id: modelId.default(EMBEDDED_MODEL_ID),
    title: z.string().min(1).optional(),
    mode: ModeSchema.optional(),
    /** Calculator ids (default: all). */
    calculators: z
      .array(z.string())
      .min(1)
      .refine((ids) => ids.every(isCalculatorId), {
        error: `unknown calculator id; known: ${CALCULATOR_IDS.join(', ')}`,
      })
      .optional(),
    parameters: CalculatorParamsSchema.prefault({}),
  })
  .strict();

const ModelEntrySchema = z.discriminatedUnion('type', [EmbeddedModelSpecSchema, RemoteModelSpecSchema]);

/** The file: `{ "defaultMode"?: ..., "models": [...] }`. */
export const ModelsFileSchema = z
  .object({ defaultMode: ModeSchema.optional(), models: z.array(ModelEntrySchema).min(1) })
  .strict();

/** One configured model with its mode resolved and any secret taken from the environment. */
export type ModelSpec = z.infer<typeof ModelEntrySchema> & { mode: Mode; secret?: string };

export interface ModelSettings {
  MODELS_FILE?: string;
  /** Comma list of enabled model ids (default: every model in the file). */
  MODELS?: string;
  /** Mode for models whose entry sets none (and no `defaultMode`). */
  MODEL_MODE: Mode;
}

function readFile(path: string): { raw?: unknown; problem?: string } {
  try {
    return { raw: JSON.parse(readFileSync(path, 'utf8')) };
  } catch (err) {
    return { problem: `MODELS_FILE: cannot read ${path}: ${(err as Error).message}` };
  }
}

/** Resolves a remote model's key or token from the environment variable its entry names. */
function withSecret(spec: ModelSpec, env: Record<string, string | undefined>, problems: string[]): ModelSpec {
  if (spec.type !== 'remote' || spec.auth.type === 'none') return spec;
  const name = spec.auth.type === 'api-key' ? spec.auth.keyEnv : spec.auth.tokenEnv;
  const secret = env[name];
  if (!secret)
    problems.push(`MODELS_FILE: model ${spec.id}: environment variable ${name} (its ${spec.auth.type}) is not set`);
  return { ...spec, secret };
}

/**
 * The enabled models: from `MODELS_FILE` when set, else the embedded library (every calculator); filtered by
 * `MODELS`; each with its mode (`entry.mode` ?? file `defaultMode` ?? `MODEL_MODE`).
 * @param env - where remote models' `keyEnv`/`tokenEnv` are looked up (normally process.env)
 * @param opts - `resolveSecrets: false` skips that lookup (offline scoring never calls a hosted model)
 */
export function loadModelSpecs(
  settings: ModelSettings,
  env: Record<string, string | undefined>,
  opts: { resolveSecrets?: boolean } = {},
): { models: ModelSpec[]; problems: string[] } {
  let file: z.infer<typeof ModelsFileSchema> = {
    defaultMode: undefined,
    models: [EmbeddedModelSpecSchema.parse({ type: 'embedded' })],
  };
  const problems: string[] = [];
  if (settings.MODELS_FILE) {
    const { raw, problem } = readFile(settings.MODELS_FILE);
    if (problem) return { models: [], problems: [problem] };
    // A bare array is accepted as the `models` list (issue paths then read `models.N...` either way).
    const parsed = ModelsFileSchema.safeParse(Array.isArray(raw) ? { models: raw } : raw);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `MODELS_FILE: ${i.path.join('.') || '(root)'}: ${i.message}`);
      return { models: [], problems: issues };
    }
    file = parsed.data;
  }
  const ids = file.models.map((m) => m.id);
  for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i)))
    problems.push(`MODELS_FILE: model id ${id} appears twice`);
  const enabled = settings.MODELS?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of enabled ?? []) {
    if (!ids.includes(id)) problems.push(`MODELS: unknown model id ${id}; configured: ${ids.join(', ')}`);
  }
  const models = file.models
    .filter((m) => !enabled || enabled.includes(m.id))
    .map((m): ModelSpec => ({ ...m, mode: m.mode ?? file.defaultMode ?? settings.MODEL_MODE }))
    .map((m) => (opts.resolveSecrets === false ? m : withSecret(m, env, problems)));
  return { models, problems };
}
