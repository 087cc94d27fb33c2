import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CapabilityStatement } from '@medplum/fhirtypes';
import type { FastifyInstance } from 'fastify';
import { PROJECT_ROOT } from '../paths.js';
import { SERVICE_VERSION } from '../version.js';
import { sendFhir } from './api-deps.js';

/** Our CapabilityStatement as shipped in fhir-profiles/ (the conformance source of truth). */
export const CAPABILITY_FILE = join(PROJECT_ROOT, 'fhir-profiles', 'CapabilityStatement-fhir-assess.json');
const ASSESS_OPERATION = 'http://fhir-assess.dev/OperationDefinition/assess';
const VALIDATE_MODEL_OPERATION = 'http://fhir-assess.dev/OperationDefinition/validate-model';

/**
 * `GET /fhir/metadata` (public, as FHIR requires): fhir-profiles/CapabilityStatement-fhir-assess.json
 * when present, else the built-in statement below, with `implementation.url` set to where we are.
 */
export async function capabilityRoutes(app: FastifyInstance, publicUrl?: string): Promise<void> {
  const statement = loadCapabilityStatement(publicUrl);
  app.get('/fhir/metadata', async (_req, reply) => sendFhir(reply, 200, statement));
}

export function loadCapabilityStatement(publicUrl?: string): CapabilityStatement {
  const shipped = existsSync(CAPABILITY_FILE)
    ? (JSON.parse(readFileSync(CAPABILITY_FILE, 'utf8')) as CapabilityStatement)
    : builtInCapabilityStatement();
  if (!publicUrl) return shipped;
  return {
    ...shipped,
    implementation: {
      description: 'fhir-assess',
      ...shipped.implementation,
      url: `${publicUrl.replace(/\/$/, '')}/fhir`,
    },
  };
}

/** The minimal statement served until fhir-profiles ships one: `$assess` at Patient, Group and system level, `$validate-model`. */
function builtInCapabilityStatement(): CapabilityStatement {
  const op = { name: 'assess', definition: ASSESS_OPERATION };
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    name: 'FhirAssess',
    title: 'fhir-assess AI risk assessment service',
    publisher: 'fhir-assess',
    software: { name: 'fhir-assess', version: SERVICE_VERSION },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    rest: [
      {
        mode: 'server',
        documentation:
          'POST Patient/{id}/$assess answers synchronously (or 202 with Prefer: respond-async); Group and system-level $assess are asynchronous (FHIR async pattern, status at $assess-status/{id}).',
        security: {
          description:
            'Bearer JWT (scope fhir-assess/assess) verified against the configured JWKS, or a static API key.',
        },
        resource: [
          { type: 'Patient', operation: [op] },
          { type: 'Group', operation: [op] },
        ],
        operation: [op, { name: 'validate-model', definition: VALIDATE_MODEL_OPERATION }],
      },
    ],
  };
}
