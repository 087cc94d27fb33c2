import type { ChangeEvent } from './change-event.js';

/** One numbered topic event a notification reported (Backport `event-number`), with or without a focus. */
export interface NumberedEvent {
  eventNumber: number;
  /** `notification-event.timestamp`, when the sender gave a valid instant. */
  timestamp?: string;
}

/** What one notification told us, whatever its wire format. */
export interface ParsedNotification {
  /** The wire variant (standards.md §0): for metrics and logs. */
  variant: string;
  /** Backport notification type, or `event-notification` for classic formats. */
  type: 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';
  subscription?: string;
  /** The Subscription's logical id (whatever form `subscription` had): the key of its event ledger. */
  subscriptionId?: string;
  /** Subscription status the sender reported (topic-based notifications only). */
  status?: string;
  /** `events-since-subscription-start` of a Backport status, when given. */
  eventsSinceStart?: number;
  /** Every event number the notification carried (also for `empty` content, which names no focus). */
  numbered?: NumberedEvent[];
  events: Omit<ChangeEvent, 'source'>[];
}

/** A notification we refuse, with the HTTP status and a message that names the problem. */
export class NotificationError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: 'invalid' | 'structure' | 'not-supported' | 'too-costly' | 'security' | 'transient' = 'invalid',
  ) {
    super(message);
    this.name = 'NotificationError';
  }
}
