import { NotificationError } from './notification.js';

/*
 * The structural minimum of every notification body, checked once before any parser reads it, so a
 * hostile or broken sender gets a 400 naming the bad element instead of a parser crash (a 5xx would
 * make the EHR retry forever). Objects are loose: unknown elements are fine, wrong types are not.
 *
 * Hand-rolled rather than zod: this runs on every notification and zod copies every object it
 * validates; here nothing is copied (the intake benchmark measured zod at ~15 % of a request's CPU).
 */

/** What an element must be. Object and array specs describe their members; absent members are fine. */
export type Shape =
  | 'string'
  | 'number'
  | 'string|number'
  | { pattern: RegExp; message: string }
  | { object: Record<string, Shape> }
  | { array: Shape; max: number };

/** Longest string element accepted anywhere in a notification's structure (characters). */
const MAX_TEXT = 8192;

const META: Shape = {
  object: {
    versionId: 'string',
    lastUpdated: 'string',
    security: { array: { object: { system: 'string', code: 'string' } }, max: 1000 },
  },
};

/** Any FHIR resource as far as intake reads it. */
export const ResourceShape: Shape = {
  object: {
    resourceType: { pattern: /^[A-Z][A-Za-z]{0,63}$/, message: 'must be a FHIR resource type name' },
    id: 'string',
    meta: META,
  },
};

const REFERENCE: Shape = { object: { reference: 'string' } };

const PARAMETER_FIELDS: Record<string, Shape> = {
  name: 'string',
  valueString: 'string',
  valueInteger: 'number',
  valueCode: 'string',
  valueInstant: 'string',
  valueCanonical: 'string',
  valueReference: REFERENCE,
};
const PARAMETER: Shape = { object: PARAMETER_FIELDS };
PARAMETER_FIELDS.part = { array: PARAMETER, max: 1000 }; // parts nest (notification-event > focus)

/** R4 Backport status (`Parameters` with the backport-subscription-status-r4 profile). */
export const ParametersShape: Shape = { object: { parameter: { array: PARAMETER, max: 10_000 } } };

/** R4B / R5 `SubscriptionStatus`. */
export const SubscriptionStatusShape: Shape = {
  object: {
    status: 'string',
    type: 'string',
    eventsSinceSubscriptionStart: 'string|number',
    subscription: REFERENCE,
    notificationEvent: {
      array: { object: { eventNumber: 'string|number', timestamp: 'string', focus: REFERENCE } },
      max: 10_000,
    },
  },
};

/** A Bundle as notifications carry it (history, subscription-notification or transaction). */
export const BundleShape: Shape = {
  object: {
    type: 'string',
    entry: {
      array: {
        object: {
          fullUrl: 'string',
          resource: ResourceShape,
          request: { object: { method: 'string', url: 'string' } },
          response: { object: { status: 'string' } },
        },
      },
      max: Number.MAX_SAFE_INTEGER, // the entry count has its own 413 check
    },
  },
};

function kind(v: unknown): string {
  if (v === null) return 'null';
  return Array.isArray(v) ? 'array' : typeof v;
}

interface Problem {
  /** Path segments, innermost first (built only on failure: the success path allocates nothing). */
  at: (string | number)[];
  message: string;
}

/** The first problem of `v` against `shape`, or undefined when it conforms. */
function problem(v: unknown, shape: Shape): Problem | undefined {
  if (typeof shape === 'string') {
    if (typeof v === 'string' && shape !== 'number')
      return v.length <= MAX_TEXT ? undefined : { at: [], message: `longer than ${MAX_TEXT} characters` };
    if (typeof v === 'number' && shape !== 'string' && Number.isFinite(v)) return undefined;
    return { at: [], message: `expected ${shape}, received ${kind(v)}` };
  }
  if ('pattern' in shape)
    return typeof v === 'string' && shape.pattern.test(v) ? undefined : { at: [], message: shape.message };
  if ('array' in shape) {
    if (!Array.isArray(v)) return { at: [], message: `expected array, received ${kind(v)}` };
    if (v.length > shape.max) return { at: [], message: `more than ${shape.max} items` };
    for (let i = 0; i < v.length; i++) {
      const p = problem(v[i], shape.array);
      if (p) return { at: [...p.at, i], message: p.message };
    }
    return undefined;
  }
  if (kind(v) !== 'object') return { at: [], message: `expected object, received ${kind(v)}` };
  const o = v as Record<string, unknown>;
  for (const key in shape.object) {
    if (o[key] === undefined) continue;
    const p = problem(o[key], shape.object[key]);
    if (p) return { at: [...p.at, key], message: p.message };
  }
  return undefined;
}

/**
 * Checks `value` against `shape`; throws a 400 naming the first problem (a path like
 * `entry.2.resource.resourceType`), never echoing values (they may be PHI).
 */
export function checkShape<T>(shape: Shape, value: unknown, what: string): T {
  const p = problem(value, shape);
  if (p) {
    const path = p.at.reverse().join('.') || '(root)';
    throw new NotificationError(400, `${what} is malformed: ${path}: ${p.message}`, 'structure');
  }
  return value as T;
}
