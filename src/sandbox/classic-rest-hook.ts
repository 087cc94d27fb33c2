import type { DeliveryRequest } from './delivery-queue.js';
import type { ResourceChange } from './indexed-repository.js';
import type { ClassicConfig } from './subscription-model.js';

/** `channel.extension` that makes HAPI send delete notifications for a classic Subscription. */
export const HAPI_SEND_DELETE_MESSAGES =
  'http://hapifhir.io/fhir/StructureDefinition/subscription-send-delete-messages';

/** What HAPI's FHIR client sends as the Content-Type of a PUT. */
const HAPI_FHIR_JSON = 'application/fhir+json; charset=UTF-8';

/**
 * The R4 classic rest-hook request for one change (standards.md §1a), or undefined when nothing is sent:
 * - no `channel.payload`: an empty `POST {endpoint}` ("something changed");
 * - with a payload: `PUT {endpoint}/{Type}/{id}` with the resource, `DELETE {endpoint}/{Type}/{id}` on delete.
 *
 * `standard` (the sandbox's historical behaviour) sends every delete that has a payload and none
 * without. `hapi` is HAPI FHIR's SubscriptionDeliveringRestHookSubscriber: deletes only when the
 * Subscription's channel carries `subscription-send-delete-messages = true` (then an empty POST
 * without a payload), and PUTs with HAPI's `charset=UTF-8` content type.
 */
export function classicRestHookRequest(
  config: ClassicConfig,
  change: ResourceChange,
  style: 'standard' | 'hapi',
): DeliveryRequest | undefined {
  const { resource, interaction } = change;
  const label = `classic ${interaction} ${resource.resourceType}/${resource.id}`;
  const base = { headers: { ...config.headers }, timeoutMs: config.timeoutMs, label };
  const isDelete = interaction === 'delete';
  if (isDelete && style === 'hapi' && !sendsDeletes(config)) return undefined;
  if (!config.payload) {
    if (isDelete && style === 'standard') return undefined;
    return { ...base, method: 'POST', url: config.endpoint };
  }
  const url = `${config.endpoint.replace(/\/+$/, '')}/${resource.resourceType}/${resource.id}`;
  if (isDelete) return { ...base, method: 'DELETE', url };
  const contentType = style === 'hapi' && config.payload === 'application/fhir+json' ? HAPI_FHIR_JSON : config.payload;
  const headers = { ...config.headers, 'Content-Type': contentType };
  return { ...base, headers, method: 'PUT', url, body: JSON.stringify(resource) };
}

function sendsDeletes(config: ClassicConfig): boolean {
  return (
    config.resource.channel?.extension?.some((e) => e.url === HAPI_SEND_DELETE_MESSAGES && e.valueBoolean === true) ??
    false
  );
}
