import { describe, expect, it } from 'vitest';
import { apiTickets, isTicketedPath, requestAuthorized, tokensEqual, TICKET_TTL_MS } from './api-tickets.js';

const matches = (given: string): boolean => tokensEqual(given, 's3cret-token');

describe('API tickets', () => {
  it.each([
    ['/api/events', true],
    ['/api/jobs/j-1/log/stream', true],
    ['/api/jobs/j-1/log/raw', true],
    ['/api/artifacts/a1/download', true],
    ['/api/jobs/j-1/terminal', true],
    ['/api/auth/tickets', false],
    ['/api/settings', false],
    ['/api/jobs/j-1/log', false],
    ['/api/events/x', false],
  ])('treats %s as ticketed: %s', (path, expected) => {
    expect(isTicketedPath(path)).toBe(expected);
  });

  it('opens the path it was minted for once, and never again', () => {
    const tickets = apiTickets();
    const { ticket } = tickets.mint('/api/events');
    const get = { url: `/api/events?auth_ticket=${ticket}`, method: 'GET' };
    expect(requestAuthorized(get, matches, tickets)).toBe(true);
    expect(requestAuthorized(get, matches, tickets)).toBe(false);
  });

  it('refuses a ticket on another path, another method or after it expired', () => {
    let now = 1_000;
    const tickets = apiTickets(() => now);
    const other = tickets.mint('/api/jobs/j1/log/raw').ticket;
    expect(requestAuthorized({ url: `/api/jobs/j2/log/raw?auth_ticket=${other}`, method: 'GET' }, matches, tickets)).toBe(false);
    const post = tickets.mint('/api/events').ticket;
    expect(requestAuthorized({ url: `/api/events?auth_ticket=${post}`, method: 'POST' }, matches, tickets)).toBe(false);
    const unticketed = tickets.mint('/api/events').ticket;
    expect(requestAuthorized({ url: `/api/settings?auth_ticket=${unticketed}`, method: 'GET' }, matches, tickets)).toBe(false);
    const late = tickets.mint('/api/artifacts/a1/download').ticket;
    now += TICKET_TTL_MS + 1;
    expect(requestAuthorized({ url: `/api/artifacts/a1/download?auth_ticket=${late}`, method: 'GET' }, matches, tickets)).toBe(false);
  });

  it('matches a percent-encoded path against its decoded form', () => {
    const tickets = apiTickets();
    const { ticket } = tickets.mint('/api/jobs/run%3A1/log/raw');
    expect(requestAuthorized({ url: `/api/jobs/run:1/log/raw?auth_ticket=${ticket}`, method: 'GET' }, matches, tickets)).toBe(true);
  });

  it('accepts the bearer token or access_token, and a wrong token even beside a good ticket is refused', () => {
    const tickets = apiTickets();
    expect(requestAuthorized({ url: '/api/settings', method: 'GET', authorization: 'Bearer s3cret-token' }, matches, tickets)).toBe(true);
    expect(requestAuthorized({ url: '/api/settings?access_token=s3cret-token', method: 'GET' }, matches, tickets)).toBe(true);
    expect(requestAuthorized({ url: '/api/settings', method: 'GET', authorization: 'Bearer s3cret-tokeN' }, matches, tickets)).toBe(false);
    expect(requestAuthorized({ url: '/api/settings', method: 'GET' }, matches, tickets)).toBe(false);
    const { ticket } = tickets.mint('/api/events');
    expect(requestAuthorized({ url: `/api/events?auth_ticket=${ticket}`, method: 'GET', authorization: 'Bearer wrong' }, matches, tickets)).toBe(false);
  });

  it('compares tokens of different lengths without throwing', () => {
    expect(tokensEqual('a', 'a-much-longer-token')).toBe(false);
    expect(tokensEqual('same', 'same')).toBe(true);
  });
});
