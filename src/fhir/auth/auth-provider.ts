/** Supplies the `Authorization` header for requests to one EHR. */
export interface AuthProvider {
  /** Header value (e.g. `Bearer abc`), or undefined to send none. */
  authorization(): Promise<string | undefined>;
  /**
   * Forgets the current token after the EHR answered 401. Returns true when a fresh token can be
   * obtained, i.e. one retry is worth it; a static token returns false.
   */
  invalidate(): boolean;
  /** Token endpoint requests made so far (0 for static auth). */
  readonly tokenRequests: number;
}

/** No Authorization header (open sandboxes, mTLS-terminated networks). */
export const noAuth: AuthProvider = {
  authorization: async () => undefined,
  invalidate: () => false,
  tokenRequests: 0,
};

/** A fixed bearer token from configuration. A 401 cannot be fixed by retrying, so there is none. */
export function staticBearer(token: string): AuthProvider {
  const header = `Bearer ${token}`;
  return { authorization: async () => header, invalidate: () => false, tokenRequests: 0 };
}
