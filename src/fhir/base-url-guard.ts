import { FHIR_ID_SOURCE } from './fhir-id.js';

const TYPE_ID_PATH = new RegExp(`^([A-Z][A-Za-z]+)\\/(${FHIR_ID_SOURCE})(?:\\/_history\\/[^/]+)?$`);

/**
 * The service only ever talks to the configured FHIR base URL: next links, references and URLs
 * inside notifications are resolved against it and refused when they point anywhere else.
 */
export class BaseUrlGuard {
  readonly base: URL;

  constructor(baseUrl: string) {
    this.base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
  }

  /** Resolves a relative path (`Patient/1`) or an absolute URL; throws when the result is outside the base. */
  resolve(pathOrUrl: string): URL {
    if (hasDotSegment(pathOrUrl)) throw new UnsafePathError();
    const resolved = new URL(pathOrUrl.replace(/^\//, ''), this.base);
    if (!this.isUnder(resolved)) {
      throw new ForeignUrlError(resolved.origin);
    }
    return resolved;
  }

  isUnder(url: URL | string): boolean {
    let u: URL;
    try {
      u = typeof url === 'string' ? new URL(url) : url;
    } catch {
      return false;
    }
    const basePath = this.base.pathname;
    return u.origin === this.base.origin && (u.pathname + '/').startsWith(basePath);
  }

  /** `Type/id` for an absolute URL under the base (`.../Observation/1/_history/2` too), else undefined. */
  relativeReference(url: string): string | undefined {
    if (!this.isUnder(url)) return undefined;
    const rest = new URL(url).pathname.slice(this.base.pathname.length);
    const m = TYPE_ID_PATH.exec(rest);
    return m ? `${m[1]}/${m[2]}` : undefined;
  }
}

/**
 * `.` / `..` path segments, also percent-encoded (WHATWG URL parsing treats `%2e` as a dot): URL
 * resolution would drop or climb them, so `Patient/..` would become a request for the base itself.
 */
function hasDotSegment(pathOrUrl: string): boolean {
  const path = pathOrUrl.split(/[?#]/, 1)[0];
  return path.split('/').some((segment) => /^(?:\.|%2e){1,2}$/i.test(segment));
}

/** A request path with a `.` or `..` segment: an id tried to change the path of an EHR request. */
export class UnsafePathError extends Error {
  constructor() {
    super('refusing an EHR request whose path has a "." or ".." segment (an invalid FHIR id)');
    this.name = 'UnsafePathError';
  }
}

/** A URL outside the configured FHIR base (the message names only the origin: no query strings, no ids). */
export class ForeignUrlError extends Error {
  constructor(readonly origin: string) {
    super(`refusing to contact ${origin}: not under the configured FHIR base URL`);
    this.name = 'ForeignUrlError';
  }
}
