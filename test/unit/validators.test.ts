import { describe, expect, it } from 'vitest';
import { evaluateConditions, fileValidators } from '../../src/http/validators.js';

describe('file validators and conditional requests', () => {
  const mtime = Date.UTC(2026, 11, 6, 12, 0, 0, 250);
  const v = fileValidators(1000, mtime);

  it('an ETag names size and mtime; another size or mtime gives another tag', () => {
    expect(v.etag).toMatch(/^W\/"[0-9a-f]+-[0-9a-f]+"$/);
    expect(fileValidators(1001, mtime).etag).not.toBe(v.etag);
    expect(fileValidators(1000, mtime + 1).etag).not.toBe(v.etag);
    expect(v.lastModified).toBe('Sun, 06 Dec 2026 12:00:00 GMT');
  });

  it.each([
    [{}, { rangeAllowed: true }],
    [{ ifNoneMatch: 'W/"3e8-0"' }, { rangeAllowed: true }],
    [{ ifNoneMatch: '*' }, 'not-modified'],
    [{ ifModifiedSince: 'Sun, 06 Dec 2026 12:00:00 GMT' }, 'not-modified'],
    [{ ifModifiedSince: 'Sun, 06 Dec 2026 11:59:59 GMT' }, { rangeAllowed: true }],
    [{ ifModifiedSince: 'not a date' }, { rangeAllowed: true }],
    [{ ifRange: 'Sun, 06 Dec 2026 12:00:00 GMT' }, { rangeAllowed: true }],
    [{ ifRange: 'Sun, 06 Dec 2026 11:00:00 GMT' }, { rangeAllowed: false }],
    [{ ifRange: '"abc"' }, { rangeAllowed: false }],
  ] as const)('%j -> %j', (headers, expected) => {
    expect(evaluateConditions(headers, v)).toEqual(expected);
  });

  it('the current tag (weak or not, in a list) is a match; If-None-Match outranks If-Modified-Since', () => {
    expect(evaluateConditions({ ifNoneMatch: v.etag }, v)).toBe('not-modified');
    expect(evaluateConditions({ ifNoneMatch: `"x", ${v.etag.slice(2)}` }, v)).toBe('not-modified');
    expect(evaluateConditions({ ifNoneMatch: '"other"', ifModifiedSince: v.lastModified }, v)).toEqual({ rangeAllowed: true });
  });
});
