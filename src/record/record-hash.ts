import { createHash } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { isAiAsserted, OWN_OUTPUT_TYPES } from '../intake/resource-facts.js';

/**
 * Canonical content hash of a record: independent of entry order and of server bookkeeping
 * (`meta.versionId`, `meta.lastUpdated`, narrative), and blind to AI write-backs so that writing an
 * assessment can never make the next one look necessary.
 */
export function recordHash(resources: Resource[]): string {
  const lines = resources
    .filter((r) => !isOwnOutput(r))
    .map((r) => `${r.resourceType}/${r.id}\u0000${canonicalJson(stripNoise(r))}`)
    .sort();
  const h = createHash('sha256');
  for (const line of lines) h.update(line).update('\n');
  return h.digest('hex');
}

/** Our own outputs, or anything an AI asserted: never an input to the hash. */
export function isOwnOutput(r: Resource): boolean {
  return OWN_OUTPUT_TYPES.has(r.resourceType) || isAiAsserted(r);
}

function stripNoise(r: Resource): unknown {
  const { meta, text, ...rest } = r as Resource & { text?: unknown };
  const keptMeta = meta ? { profile: meta.profile, security: meta.security, tag: meta.tag } : undefined;
  return keptMeta && (keptMeta.profile || keptMeta.security || keptMeta.tag) ? { ...rest, meta: keptMeta } : rest;
}

/** JSON with object keys sorted at every level, so equal content gives equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}
