import { getResourceTypes, getSearchParameters } from '@medplum/core';
import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceOperation,
  CapabilityStatementRestResourceSearchParam,
  ResourceType,
} from '@medplum/fhirtypes';
import { BackportUrl, SUPPORTED_TOPICS } from './constants.js';

/** Types Medplum indexes that are not REST-exposed R4 resources (R4B type, or payload-only types). */
const NOT_EXPOSED = new Set(['SubscriptionStatus', 'Parameters', 'OperationOutcome', 'Binary']);

const INTERACTIONS = ['read', 'vread', 'update', 'create', 'delete', 'search-type', 'history-instance'] as const;

const BULK_EXPORT = 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition';

const PATIENT_OPERATIONS: CapabilityStatementRestResourceOperation[] = [
  { name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' },
  { name: 'export', definition: `${BULK_EXPORT}/patient-export` }, // src/sandbox/bulk-export.ts
];

const SUBSCRIPTION_OPERATIONS: CapabilityStatementRestResourceOperation[] = [
  { name: 'status', definition: BackportUrl.statusOperation },
  { name: 'events', definition: BackportUrl.eventsOperation },
];

/**
 * Builds the sandbox's CapabilityStatement: FHIR 4.0.1 server, every R4 resource type with the
 * interactions the router implements and the search parameters indexed in @medplum/core,
 * `Patient/$everything`, batch/transaction, and the supported SubscriptionTopic canonicals in the
 * Backport IG's extension on the Subscription entry. Built once per sandbox (~150 types).
 */
export function buildCapabilityStatement(baseUrl: string, startedAt: string): CapabilityStatement {
  const resource = getResourceTypes()
    .filter((type) => !NOT_EXPOSED.has(type))
    .map(resourceEntry);
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: startedAt,
    kind: 'instance',
    name: 'FhirAssessSandboxEhr',
    title: 'fhir-assess sandbox EHR',
    publisher: 'fhir-assess',
    instantiates: [BackportUrl.serverCapabilities],
    software: { name: 'fhir-assess sandbox (Medplum fhir-router MemoryRepository)' },
    implementation: { description: 'In-process FHIR R4 server for demos and tests', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['json', 'application/fhir+json'],
    rest: [
      {
        mode: 'server',
        resource,
        interaction: [{ code: 'batch' }, { code: 'transaction' }],
        operation: [{ name: 'export', definition: `${BULK_EXPORT}/export` }],
      },
    ],
  };
}

function resourceEntry(type: string): CapabilityStatementRestResource {
  const entry: CapabilityStatementRestResource = {
    type: type as ResourceType,
    interaction: INTERACTIONS.map((code) => ({ code })),
    versioning: 'versioned',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalUpdate: true,
    searchParam: searchParamsOf(type),
  };
  if (type === 'Patient') entry.operation = PATIENT_OPERATIONS;
  if (type === 'Group') entry.operation = [{ name: 'export', definition: `${BULK_EXPORT}/group-export` }];
  if (type === 'Subscription') {
    entry.operation = SUBSCRIPTION_OPERATIONS;
    entry.extension = SUPPORTED_TOPICS.map((topic) => ({ url: BackportUrl.topicCanonical, valueCanonical: topic }));
  }
  return entry;
}

/** The standard (non-Medplum) search parameters of a type, as CapabilityStatement entries. */
function searchParamsOf(type: string): CapabilityStatementRestResourceSearchParam[] {
  return Object.values(getSearchParameters(type) ?? {})
    .filter((sp) => sp.code && sp.type && !sp.url?.includes('medplum.com'))
    .map((sp) => ({
      name: sp.code as string,
      definition: sp.url,
      type: sp.type as CapabilityStatementRestResourceSearchParam['type'],
    }));
}
