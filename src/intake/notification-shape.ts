import { z } from 'zod';
import { NotificationError } from './notification.js';

/*
 * The structural minimum of every notification body, checked once before any parser reads it, so a
 * hostile or broken sender gets a 400 naming the bad element instead of a parser crash (a 5xx would
 * make the EHR retry forever). Objects are loose: unknown elements are fine, wrong types are not.
 */

const text = z.string().max(8192);

const MetaShape = z.looseObject({
  versionId: text.optional(),
  lastUpdated: text.optional(),
  security: z.array(z.looseObject({ system: text.optional(), code: text.optional() })).optional(),
});

/** Any FHIR resource as far as intake reads it. */
export const ResourceShape = z.looseObject({
  resourceType: z.string().regex(/^[A-Z][A-Za-z]{0,63}$/, 'must be a FHIR resource type name'),
  id: text.optional(),
  meta: MetaShape.optional(),
});

const ReferenceShape = z.looseObject({ reference: text.optional() });

interface ParameterShapeT {
  name: string;
  valueString?: string;
  valueInteger?: number;
  valueCode?: string;
  valueInstant?: string;
  valueCanonical?: string;
  valueReference?: { reference?: string };
  part?: ParameterShapeT[];
}

const ParameterShape: z.ZodType<ParameterShapeT> = z.looseObject({
  name: text,
  valueString: text.optional(),
  valueInteger: z.number().optional(),
  valueCode: text.optional(),
  valueInstant: text.optional(),
  valueCanonical: text.optional(),
  valueReference: ReferenceShape.optional(),
  get part() {
    return z.array(ParameterShape).max(1000).optional();
  },
});

/** R4 Backport status (`Parameters` with the backport-subscription-status-r4 profile). */
export const ParametersShape = z.looseObject({
  resourceType: z.literal('Parameters'),
  parameter: z.array(ParameterShape).max(10_000).optional(),
});

const eventNumber = z.union([text, z.number()]);

/** R4B / R5 `SubscriptionStatus`. */
export const SubscriptionStatusShape = z.looseObject({
  resourceType: z.literal('SubscriptionStatus'),
  status: text.optional(),
  type: text.optional(),
  eventsSinceSubscriptionStart: eventNumber.optional(),
  subscription: ReferenceShape.optional(),
  notificationEvent: z
    .array(
      z.looseObject({
        eventNumber: eventNumber.optional(),
        timestamp: text.optional(),
        focus: ReferenceShape.optional(),
      }),
    )
    .max(10_000)
    .optional(),
});

const EntryShape = z.looseObject({
  fullUrl: text.optional(),
  resource: ResourceShape.optional(),
  request: z.looseObject({ method: text.optional(), url: text.optional() }).optional(),
  response: z.looseObject({ status: text.optional() }).optional(),
});

/** A Bundle as notifications carry it (history, subscription-notification or transaction). */
export const BundleShape = z.looseObject({
  resourceType: z.literal('Bundle'),
  type: text.optional(),
  entry: z.array(EntryShape).optional(),
});

/**
 * Checks `value` against `shape`; throws a 400 naming the first problems (paths like
 * `entry.2.resource.resourceType`), never echoing values (they may be PHI).
 */
export function checkShape<T>(shape: z.ZodType<T>, value: unknown, what: string): T {
  const r = shape.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
  throw new NotificationError(400, `${what} is malformed: ${problems}`, 'structure');
}
