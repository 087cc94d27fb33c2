import { describe, expect, it } from 'vitest';
import { BaseUrlGuard } from '../../src/fhir/base-url-guard.js';
import { NotificationError } from '../../src/intake/notification.js';
import { parseNotification } from '../../src/intake/parse-notification.js';

const guard = new BaseUrlGuard('https://ehr.example.org/fhir/R4');
const post = (body: unknown, headers: Record<string, string> = {}) =>
  parseNotification({ method: 'POST', headers, body }, guard);

/** Built from the Backport IG's R4 notification example (standards.md §1b). */
function backportR4(content: 'id-only' | 'full-resource' | 'empty', type = 'event-notification') {
  const focus = 'https://ehr.example.org/fhir/R4/Observation/obs-1';
  return {
    resourceType: 'Bundle',
    type: 'history',
    timestamp: '2020-05-29T11:44:13-05:00',
    entry: [
      {
        fullUrl: 'urn:uuid:9e41ff6d-5be6-4e6a-8b85-abd4e7f58400',
        resource: {
          resourceType: 'Parameters',
          parameter: [
            {
              name: 'subscription',
              valueReference: { reference: 'https://ehr.example.org/fhir/R4/Subscription/admission' },
            },
            { name: 'topic', valueCanonical: 'http://hl7.org/SubscriptionTopic/admission' },
            { name: 'status', valueCode: 'active' },
            { name: 'type', valueCode: type },
            { name: 'events-since-subscription-start', valueString: '2' },
            ...(type === 'event-notification'
              ? [
                  {
                    name: 'notification-event',
                    part: [
                      { name: 'event-number', valueString: '2' },
                      { name: 'timestamp', valueInstant: '2020-05-29T11:44:13.1882432-05:00' },
                      ...(content === 'empty' ? [] : [{ name: 'focus', valueReference: { reference: focus } }]),
                    ],
                  },
                ]
              : []),
          ],
        },
        request: { method: 'GET', url: 'https://ehr.example.org/fhir/R4/Subscription/admission/$status' },
        response: { status: '200' },
      },
      ...(content === 'empty' || type !== 'event-notification'
        ? []
        : [
            {
              fullUrl: focus,
              ...(content === 'full-resource'
                ? {
                    resource: {
                      resourceType: 'Observation',
                      id: 'obs-1',
                      meta: { versionId: '3' },
                      status: 'final',
                      code: {},
                      subject: { reference: 'Patient/p-7' },
                    },
                  }
                : {}),
              request: { method: 'PUT', url: 'Observation/obs-1' },
              response: { status: '200' },
            },
          ]),
    ],
  };
}

describe('parseNotification', () => {
  it('When an R4 classic rest-hook arrives with an empty body, Then it is a ping asking us to catch up', () => {
    const n = post(undefined);
    expect(n.variant).toBe('r4-classic-empty');
    expect(n.events).toEqual([{ via: 'r4-classic-empty', interaction: 'ping', subscription: undefined }]);
  });

  it('When HAPI PUTs the resource to /notify/{type}/{id}, Then the event names the resource, version and patient', () => {
    const n = parseNotification(
      {
        method: 'PUT',
        path: { resourceType: 'Observation', id: 'o1' },
        headers: {},
        body: { resourceType: 'Observation', id: 'o1', meta: { versionId: '4' }, subject: { reference: 'Patient/p1' } },
      },
      guard,
    );
    expect(n.events[0]).toMatchObject({
      interaction: 'update',
      resourceType: 'Observation',
      id: 'o1',
      versionId: '4',
      patientId: 'p1',
    });
  });

  it('When the PUT body names another resource than the path, Then it is refused with 400', () => {
    expect(() =>
      parseNotification(
        {
          method: 'PUT',
          path: { resourceType: 'Observation', id: 'o1' },
          headers: {},
          body: { resourceType: 'Observation', id: 'o2' },
        },
        guard,
      ),
    ).toThrow(/path says Observation\/o1/);
  });

  it('When a Backport R4 id-only bundle arrives, Then the focus reference becomes an event with its event number', () => {
    const n = post(backportR4('id-only'));
    expect(n).toMatchObject({
      variant: 'r4-backport',
      type: 'event-notification',
      subscription: 'https://ehr.example.org/fhir/R4/Subscription/admission',
      eventsSinceStart: 2,
    });
    expect(n.events).toEqual([
      expect.objectContaining({ interaction: 'update', resourceType: 'Observation', id: 'obs-1', eventNumber: 2 }),
    ]);
  });

  it('When a Backport R4 full-resource bundle arrives, Then the patient is read from the included resource', () => {
    const n = post(backportR4('full-resource'));
    expect(n.events[0]).toMatchObject({
      resourceType: 'Observation',
      id: 'obs-1',
      versionId: '3',
      patientId: 'p-7',
      eventNumber: 2,
    });
  });

  it('When a Backport empty-content notification arrives, Then a ping carries the event number', () => {
    const n = post(backportR4('empty'));
    expect(n.events).toEqual([expect.objectContaining({ interaction: 'ping', eventNumber: 2 })]);
  });

  it('When a handshake arrives, Then it carries no events', () => {
    const n = post(backportR4('id-only', 'handshake'));
    expect(n.type).toBe('handshake');
    expect(n.events).toEqual([]);
  });

  it('When an R4B bundle starts with SubscriptionStatus, Then it is parsed the same way', () => {
    const n = post({
      resourceType: 'Bundle',
      type: 'history',
      entry: [
        {
          resource: {
            resourceType: 'SubscriptionStatus',
            status: 'active',
            type: 'event-notification',
            eventsSinceSubscriptionStart: '7',
            notificationEvent: [{ eventNumber: '7', focus: { reference: 'Condition/c1' } }],
            subscription: { reference: 'Subscription/s1' },
          },
        },
      ],
    });
    expect(n.variant).toBe('r4b-backport');
    expect(n.events[0]).toMatchObject({ resourceType: 'Condition', id: 'c1', eventNumber: 7 });
  });

  it('When a focus points at another server, Then the notification is refused (no fetching elsewhere)', () => {
    const b = backportR4('id-only');
    (
      (b.entry[0].resource as { parameter: unknown[] }).parameter[5] as {
        part: { name: string; valueReference?: { reference: string } }[];
      }
    ).part[2].valueReference = {
      reference: 'https://evil.example.com/fhir/Observation/obs-1',
    };
    expect(() => post(b)).toThrow(NotificationError);
    expect(() => post(b)).toThrow(/outside the configured FHIR base URL/);
  });

  it('When a Medplum rest-hook posts a bare resource, Then headers give the subscription and interaction', () => {
    const n = post(
      { resourceType: 'Observation', id: 'o9', subject: { reference: 'Patient/p2' } },
      { 'x-medplum-subscription': 'sub-1', 'x-medplum-interaction': 'create' },
    );
    expect(n.events[0]).toMatchObject({
      via: 'medplum',
      interaction: 'create',
      id: 'o9',
      patientId: 'p2',
      subscription: 'sub-1',
    });
  });

  it('When a resource labelled AIAST is announced, Then the event says so (no feedback loop)', () => {
    const n = post(
      {
        resourceType: 'RiskAssessment',
        id: 'r1',
        meta: { security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST' }] },
        subject: { reference: 'Patient/p2' },
      },
      { 'x-medplum-subscription': 'sub-1', 'x-medplum-interaction': 'create' },
    );
    expect(n.events[0].aiAsserted).toBe(true);
  });

  it('When a bare resource is POSTed without Medplum headers or the body is not FHIR, Then precise 4xx errors name the problem', () => {
    expect(() => post({ resourceType: 'Observation', id: 'x' })).toThrow(/classic payloads use PUT/);
    expect(() => post([1, 2])).toThrow(/expected a FHIR resource/);
    expect(() => post({ hello: 'world' })).toThrow(/no valid resourceType/);
    expect(() => post({ resourceType: 'Bundle', type: 'searchset', entry: [] })).toThrow(
      /not a subscription notification/,
    );
  });

  it('When a bundle carries more entries than allowed, Then it is refused as too costly (413)', () => {
    const big = { resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: 5000 }, () => ({})) };
    try {
      post(big);
      expect.unreachable();
    } catch (e) {
      expect((e as NotificationError).status).toBe(413);
    }
  });
});
