import type { Device, Reference } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.js';
import type { RedisClient } from '../jobs/redis-connection.js';
import { createOne } from './create-one.js';
import { identifierToken } from './map-devices.js';
import type { WriteBackKeys } from './redis-keys.js';
import { type LockOptions, withLock } from './redis-lock.js';

/** How long a known `Device/<id>` is trusted before it is looked up again: 24 h, in seconds. */
const DEVICE_REF_TTL_S = 24 * 3600;

/**
 * Makes sure the EHR holds exactly one Device with this identifier and returns its reference.
 * The caller validates the Device first (with the rest of the write-back).
 *
 * Devices are shared by every assessment of a model, so they get their own lock: the cached
 * `Device/<id>` answers almost every call with one Redis GET; only a miss takes the per-identifier
 * lock, re-checks the cache (another worker may just have created it) and sends one conditional
 * create. Two workers can therefore never both create the Device, even on an EHR whose conditional
 * create is not atomic.
 */
export async function ensureDevice(
  client: FhirClient,
  redis: RedisClient,
  keys: WriteBackKeys,
  device: Device,
  lock?: LockOptions,
): Promise<Reference<Device>> {
  const token = identifierToken(device);
  const cacheKey = keys.deviceRef(token);
  const cached = await redis.get(cacheKey);
  if (cached) return { reference: cached };
  return withLock(
    redis,
    keys.deviceLock(token),
    async () => {
      const again = await redis.get(cacheKey);
      if (again) return { reference: again };
      const { reference } = await createOne(client, {
        resource: device,
        ifNoneExist: `identifier=${encodeURIComponent(token)}`,
      });
      await redis.set(cacheKey, reference, 'EX', DEVICE_REF_TTL_S);
      return { reference };
    },
    lock,
  );
}
