import { describe, expect, it } from 'vitest';
import { canonicalTarget, checkSignedUrl, MAX_SIGNED_URL_TTL_SECONDS, signingKey, signUrl } from '../../src/http/signed-url.js';

const key = signingKey('records-secret');
const now = 1_800_000_000_000;

describe('signed media URLs', () => {
  it('a signed URL is valid until it expires, and then refused', () => {
    const s = signUrl(key, '/client/records/cam-1.mp4', 600, now)!;
    expect(s.url).toMatch(/^\/client\/records\/cam-1\.mp4\?exp=\d+&sig=[0-9a-f]{64}$/);
    expect(s.exp).toBe(now / 1000 + 600);
    expect(checkSignedUrl(key, s.url, now)).toBe('valid');
    expect(checkSignedUrl(key, s.url, now + 600_000)).toBe('valid');
    expect(checkSignedUrl(key, s.url, now + 601_000)).toBe('expired');
  });

  it('never carries the token, and a token in the path to sign is dropped', () => {
    const s = signUrl(key, '/client/streams/cam.mp4?to=2&from=1&token=records-secret', 60, now)!;
    expect(s.url).not.toContain('records-secret');
    expect(s.url.startsWith('/client/streams/cam.mp4?from=1&to=2&exp=')).toBe(true);
  });

  it('the query is signed: another range, path or expiry is refused', () => {
    const s = signUrl(key, '/client/streams/cam.mp4?from=1000&to=2000', 60, now)!;
    expect(checkSignedUrl(key, s.url, now)).toBe('valid');
    expect(checkSignedUrl(key, s.url.replace('to=2000', 'to=9000'), now)).toBe('bad');
    expect(checkSignedUrl(key, s.url.replace('cam.mp4', 'other.mp4'), now)).toBe('bad');
    expect(checkSignedUrl(key, s.url.replace(`exp=${s.exp}`, `exp=${s.exp + 1}`), now)).toBe('bad');
    // parameter order does not matter
    const sig = new URL(s.url, 'http://x').searchParams.get('sig');
    expect(checkSignedUrl(key, `/client/streams/cam.mp4?sig=${sig}&to=2000&exp=${s.exp}&from=1000`, now)).toBe('valid');
  });

  it('another token (key) refuses the signature', () => {
    const s = signUrl(key, '/client/records/a.mp4', 60, now)!;
    expect(checkSignedUrl(signingKey('another'), s.url, now)).toBe('bad');
  });

  it('expiry is bounded to an hour, whatever is asked', () => {
    const s = signUrl(key, '/client/records/a.mp4', 10 * 24 * 3600, now)!;
    expect(s.exp).toBe(now / 1000 + MAX_SIGNED_URL_TTL_SECONDS);
  });

  it('refuses malformed exp/sig and answers none without a sig', () => {
    expect(checkSignedUrl(key, '/client/records/a.mp4', now)).toBe('none');
    expect(checkSignedUrl(key, '/client/records/a.mp4?token=x', now)).toBe('none');
    expect(checkSignedUrl(key, '/client/records/a.mp4?sig=00&exp=abc', now)).toBe('bad');
    expect(checkSignedUrl(key, '/client/records/a.mp4?sig=00', now)).toBe('bad');
    const s = signUrl(key, '/client/records/a.mp4', 60, now)!;
    expect(checkSignedUrl(key, `${s.url}&sig=${'0'.repeat(64)}`, now)).toBe('bad');
  });

  it('only local paths are signed', () => {
    expect(canonicalTarget('http://evil/x')).toBeNull();
    expect(canonicalTarget('//evil/x')).toBeNull();
    expect(signUrl(key, 'client/records/a', 60, now)).toBeNull();
  });
});
