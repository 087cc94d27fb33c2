/**
 * A refused API request: the HTTP status and a message naming the problem. The app's error handler
 * (src/api/app.ts) turns it into an OperationOutcome whose issue code follows the status
 * (400 invalid, 401/403 security, 404 not-found, 413 too-costly, 429 throttled, 5xx exception).
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
