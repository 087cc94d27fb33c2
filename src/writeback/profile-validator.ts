import { loadDataType, type TypedValue, validateResource, validateTypedValue } from '@medplum/core';
import type { OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';

/** Prefix of the private type names our profiles are registered under (never a FHIR type name). */
const ALIAS_PREFIX = 'FhirAssessProfile';

/** A profile registered with @medplum/core as its own data type: parsed once, validated against by name. */
interface Alias {
  typeName: string;
  /** The profiled resource type (`RiskAssessment`), written back into the issues in place of `typeName`. */
  baseType: string;
}

const aliases = new Map<string, Alias>();

/**
 * Validates `resource` against `profile` exactly as `validateResource(resource, { profile })` does (it
 * throws `OperationOutcomeError` when an issue is an error, else returns the warnings), without
 * @medplum/core's cost of parsing the StructureDefinition on every call (2–6 ms per resource: its
 * parser looks up every ElementDefinition choice property across every FHIR type; library-notes §2).
 * That parse was 40 % of a worker's CPU in the backfill benchmark (issue 13).
 *
 * How: the first call registers a copy of the profile as a data type of its own (`loadDataType`,
 * which parses it once), its element paths renamed from `RiskAssessment.*` to a private type name so
 * that neither it nor its backbone types replace the base R4 types other validations use; later calls
 * validate against that registered type by name, and the private name is written back to the base type
 * in the issues. test/writeback/profile-validator.test.ts checks the outcome equals @medplum/core's own
 * profile validation on valid resources and on every kind of profile violation.
 */
export function validateAgainstProfile(resource: Resource, profile: StructureDefinition): OperationOutcomeIssue[] {
  if (!profile.url || profile.type !== resource.resourceType) return validateResource(resource, { profile });
  const alias = aliases.get(profile.url) ?? register(profile);
  try {
    return validateTypedValue({ type: alias.typeName, value: resource } as TypedValue).map((i) => unalias(i, alias));
  } catch (err) {
    const outcome = (err as { outcome?: { issue?: OperationOutcomeIssue[] } }).outcome;
    if (outcome?.issue) outcome.issue = outcome.issue.map((i) => unalias(i, alias));
    throw err;
  }
}

function register(profile: StructureDefinition): Alias {
  const baseType = profile.type as string;
  const typeName = `${ALIAS_PREFIX}${aliases.size + 1}${baseType}`;
  const rename = (s: string | undefined) =>
    s === baseType || s?.startsWith(`${baseType}.`) || s?.startsWith(`${baseType}:`)
      ? typeName + s.slice(baseType.length)
      : s;
  const copy = structuredClone(profile);
  // An "official"-looking URL for the private type is what makes loadDataType index it by type name.
  Object.assign(copy, {
    type: typeName,
    name: typeName,
    url: `https://medplum.com/fhir/StructureDefinition/${typeName}`,
  });
  for (const e of copy.snapshot?.element ?? []) {
    e.path = rename(e.path) as string;
    e.id = rename(e.id);
    if (e.contentReference) e.contentReference = `#${rename(e.contentReference.slice(1))}`;
  }
  loadDataType(copy);
  const alias = { typeName, baseType };
  aliases.set(profile.url, alias);
  return alias;
}

/** The issue as the base validation words it: `RiskAssessment.x`, not the private type name. */
function unalias(issue: OperationOutcomeIssue, alias: Alias): OperationOutcomeIssue {
  const fix = (s: string) => s.replaceAll(alias.typeName, alias.baseType);
  return {
    ...issue,
    ...(issue.expression ? { expression: issue.expression.map(fix) } : {}),
    ...(issue.details?.text ? { details: { ...issue.details, text: fix(issue.details.text) } } : {}),
    ...(issue.diagnostics ? { diagnostics: fix(issue.diagnostics) } : {}),
  };
}
