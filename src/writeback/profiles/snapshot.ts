import type {
  ElementDefinition,
  ElementDefinitionType,
  StructureDefinition,
  StructureDefinitionSnapshot,
} from '@medplum/fhirtypes';

/**
 * A deliberately small snapshot generator for our own constraint profiles (@medplum/core can only
 * validate against a snapshot and has none; see shared docs library-notes §2).
 *
 * Scope, checked rather than assumed: every differential element must name an element that exists in
 * the base resource's snapshot (top-level elements and backbone children such as
 * `RiskAssessment.prediction.outcome`). It overlays `min`/`max` (tightening only), narrows `type`
 * (codes and Reference targets must be a subset of the base), sets `fixed[x]`/`pattern[x]`, appends
 * `constraint`s and copies documentation keys. Slicing and unrolling a datatype's children
 * (`meta.security`) are NOT supported and throw: express such rules as FHIRPath invariants instead,
 * which the Medplum validator evaluates.
 */

/** Differential keys the generator knows how to apply; anything else is an error, never ignored. */
const DOC_KEYS = ['short', 'definition', 'comment', 'requirements', 'mustSupport'] as const;
const HANDLED_KEYS = new Set<string>(['id', 'path', 'min', 'max', 'type', 'constraint', ...DOC_KEYS]);
const CORE_SD = 'http://hl7.org/fhir/StructureDefinition/';

/** Maps a profile canonical (ours or core) to the resource type it constrains. */
export type ProfileTypes = Record<string, string>;

/**
 * Builds `profile.snapshot` from the base resource's snapshot and `profile.differential`.
 * @param profile - a constraint StructureDefinition with a differential
 * @param base - the core StructureDefinition of `profile.type` (with its snapshot)
 * @param profileTypes - the resource type of each of our profile canonicals (for Reference targets)
 * @returns the profile with a freshly generated snapshot (the input is not modified)
 */
export function generateSnapshot(
  profile: StructureDefinition,
  base: StructureDefinition,
  profileTypes: ProfileTypes = {},
): StructureDefinition {
  if (profile.derivation !== 'constraint' || profile.baseDefinition !== base.url) {
    throw new Error(`${profile.url}: must be a constraint on ${base.url}`);
  }
  const baseElements = base.snapshot?.element ?? [];
  const diff = profile.differential?.element ?? [];
  const byId = new Map(diff.map((d) => [d.id ?? d.path ?? '', d]));
  const known = new Set(baseElements.map((e) => e.id));
  for (const d of diff) {
    if (!known.has(d.id ?? d.path)) {
      throw new Error(
        `${profile.url}: ${d.id ?? d.path} is not an element of the base (slicing/unrolling unsupported)`,
      );
    }
  }
  const element = baseElements.map((b) => {
    const d = byId.get(b.id ?? '');
    return d ? overlay(b, d, profile.url ?? '', profileTypes) : structuredClone(b);
  });
  const snapshot: StructureDefinitionSnapshot = { element };
  const { snapshot: _old, differential, ...header } = profile;
  return { ...header, snapshot, differential };
}

/** One base element with one differential element applied on top. */
function overlay(base: ElementDefinition, d: ElementDefinition, url: string, types: ProfileTypes): ElementDefinition {
  const where = `${url}#${d.id ?? d.path}`;
  for (const key of Object.keys(d)) {
    if (!HANDLED_KEYS.has(key) && !/^(fixed|pattern)[A-Z]/.test(key)) {
      throw new Error(`${where}: differential key '${key}' is not supported by the generator`);
    }
  }
  const out = structuredClone(base);
  const outRecord = out as unknown as Record<string, unknown>;
  const diffRecord = d as unknown as Record<string, unknown>;
  if (d.min !== undefined) {
    if (d.min < (base.min ?? 0)) throw new Error(`${where}: min ${d.min} loosens the base min ${base.min}`);
    out.min = d.min;
  }
  if (d.max !== undefined) {
    if (cardinality(d.max) > cardinality(base.max)) throw new Error(`${where}: max ${d.max} loosens ${base.max}`);
    out.max = d.max;
  }
  if (out.min !== undefined && cardinality(out.max) < out.min) throw new Error(`${where}: min > max`);
  if (d.type) out.type = narrowTypes(base.type ?? [], d.type, where, types);
  for (const key of Object.keys(d).filter((k) => /^(fixed|pattern)[A-Z]/.test(k))) {
    const typeCode = key.replace(/^(fixed|pattern)/, '');
    if (!(out.type ?? []).some((t) => t.code?.toLowerCase() === typeCode.toLowerCase())) {
      throw new Error(`${where}: ${key} does not match the element's types`);
    }
    outRecord[key] = structuredClone(diffRecord[key]);
  }
  if (d.constraint) out.constraint = [...(base.constraint ?? []), ...d.constraint.map((c) => ({ ...c, source: url }))];
  for (const key of DOC_KEYS) if (d[key] !== undefined) outRecord[key] = d[key];
  return out;
}

/** The differential's types, each of which must be allowed by the base (codes and Reference targets). */
function narrowTypes(
  base: ElementDefinitionType[],
  narrowed: ElementDefinitionType[],
  where: string,
  types: ProfileTypes,
): ElementDefinitionType[] {
  return narrowed.map((t) => {
    const b = base.find((x) => x.code === t.code);
    if (!b) throw new Error(`${where}: type ${t.code} is not allowed by the base`);
    for (const target of t.targetProfile ?? []) {
      const targetType = types[target] ?? (target.startsWith(CORE_SD) ? target.slice(CORE_SD.length) : undefined);
      const allowed = (b.targetProfile ?? []).some(
        (bt) => bt === `${CORE_SD}Resource` || bt === `${CORE_SD}${targetType}`,
      );
      if (!targetType || !allowed) throw new Error(`${where}: Reference target ${target} is not allowed by the base`);
    }
    return { ...structuredClone(b), ...structuredClone(t) };
  });
}

function cardinality(max: string | undefined): number {
  return max === undefined || max === '*' ? Number.POSITIVE_INFINITY : Number(max);
}
