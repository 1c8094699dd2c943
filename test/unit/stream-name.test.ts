import { describe, expect, it } from 'vitest';
import { checkLogin, checkName, checkStreamName, escapeControls, MAX_LOGIN_BYTES, MAX_STREAM_NAME_BYTES } from '../../src/streams/stream-name.js';

/** One rule for client-given names: a table of what is refused (and why) and what passes unchanged. */

const refused: ReadonlyArray<readonly [string, unknown, RegExp]> = [
  ['NUL', 'nul\u0000byte', /control character \(U\+0000\) at position 3/],
  ['line feed', 'a\nb', /control character \(U\+000A\)/],
  ['carriage return', 'a\rb', /U\+000D/],
  ['tab', 'a\tb', /U\+0009/],
  ['escape (C0)', '\u001b[31mred', /U\+001B/],
  ['unit separator (last C0)', 'x\u001f', /U\+001F/],
  ['DEL', 'a\u007f', /U\+007F/],
  ['C1 first', 'a\u0080', /U\+0080/],
  ['C1 NEL', 'a\u0085b', /U\+0085/],
  ['C1 last', 'a\u009f', /U\+009F/],
  ['line separator U+2028', 'a\u2028b', /U\+2028/],
  ['paragraph separator U+2029', 'a\u2029b', /U\+2029/],
  ['lone high surrogate', 'a\ud800b', /not well-formed Unicode/],
  ['lone low surrogate', 'a\udc00', /not well-formed Unicode/],
  ['reversed surrogate pair', '\udc00\ud800', /not well-formed Unicode/],
  ['empty', '', /must not be empty/],
  ['number', 42, /must be a string/],
  ['null', null, /must be a string/],
  ['undefined', undefined, /must be a string/],
  ['object', { name: 'x' }, /must be a string/],
  ['array', ['x'], /must be a string/],
  ['too many ASCII bytes', 'a'.repeat(MAX_STREAM_NAME_BYTES + 1), /201 bytes long; at most 200/],
  // 67 × 3 bytes = 201 bytes in 67 characters: the limit is bytes, not characters
  ['too many bytes of 3-byte characters', '€'.repeat(67), /201 bytes long/],
  // 51 × 4 bytes = 204 bytes
  ['too many bytes of 4-byte characters', '😀'.repeat(51), /204 bytes long/],
];

const accepted: ReadonlyArray<readonly [string, string]> = [
  ['plain', 'stream1'],
  ['spaces and punctuation', 'my stream (1) #2 & co.'],
  ['dots and slashes (encoded when they reach a file)', '../etc/passwd'],
  ['percent sign as text', '100%'],
  ['non-Latin', 'поток-流-ストリーム'],
  ['emoji (a valid surrogate pair)', 'live😀'],
  ['exactly the byte limit (ASCII)', 'a'.repeat(MAX_STREAM_NAME_BYTES)],
  ['exactly the byte limit (2-byte characters)', 'é'.repeat(MAX_STREAM_NAME_BYTES / 2)],
  ['exactly the byte limit (4-byte characters)', '😀'.repeat(MAX_STREAM_NAME_BYTES / 4)],
  ['U+00A0 (not a control)', 'a\u00a0b'],
  ['U+FFFD', 'a\ufffdb'],
];

describe('checkStreamName', () => {
  it.each(refused)('refuses %s', (_what, value, reason) => {
    const r = checkStreamName(value);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.reason).toMatch(reason);
      expect(r.reason).toMatch(/^stream name /);
    }
  });

  it.each(accepted)('accepts %s unchanged', (_what, value) => {
    expect(checkStreamName(value)).toEqual({ ok: true, value });
  });

  it('names the first control character and its position', () => {
    const r = checkStreamName('ab\ncd\u0000');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe('stream name holds a control character (U+000A) at position 2');
  });

  it('never echoes the refused value itself (a reason is safe to log and to answer)', () => {
    for (const [, value] of refused) {
      const r = checkStreamName(value);
      if (!r.ok) expect(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(r.reason)).toBe(false);
    }
  });
});

describe('checkLogin', () => {
  it('allows an empty login', () => {
    expect(checkLogin('')).toEqual({ ok: true, value: '' });
  });
  it.each([
    ['NUL', 'bob\u0000', /^login holds a control character \(U\+0000\)/],
    ['line feed', 'bob\nadmin', /U\+000A/],
    ['too long', 'x'.repeat(MAX_LOGIN_BYTES + 1), /at most 128/],
    ['not a string', 7, /^login must be a string/],
  ] as const)('refuses %s', (_what, value, reason) => {
    const r = checkLogin(value);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
  it('accepts the byte limit exactly', () => {
    expect(checkLogin('x'.repeat(MAX_LOGIN_BYTES)).ok).toBe(true);
  });
});

describe('checkName', () => {
  it('uses the caller\'s word and limit', () => {
    const r = checkName('abcdef', 'file template', 5);
    expect(r).toEqual({ ok: false, reason: 'file template is 6 bytes long; at most 5 are allowed' });
  });
  it('allowEmpty only relaxes emptiness', () => {
    expect(checkName('', 'x', 5, true).ok).toBe(true);
    expect(checkName('\u0000', 'x', 5, true).ok).toBe(false);
  });
  it('is stateless (no lastIndex carried between calls)', () => {
    for (let i = 0; i < 3; i++) {
      expect(checkName('a\nb', 'x', 10).ok).toBe(false);
      expect(checkName('ab', 'x', 10).ok).toBe(true);
    }
  });
});

describe('escapeControls', () => {
  it.each([
    ['a\nb', 'a\\u000ab'],
    ['a\r\nforged line', 'a\\u000d\\u000aforged line'],
    ['nul\u0000', 'nul\\u0000'],
    ['\u007f\u0085\u009f', '\\u007f\\u0085\\u009f'],
    ['x\u2028y\u2029', 'x\\u2028y\\u2029'],
    ['plain é 😀', 'plain é 😀'],
    ['', ''],
  ])('%j -> %j', (input, output) => {
    expect(escapeControls(input)).toBe(output);
  });
  it('leaves nothing a line reader splits on', () => {
    let all = '';
    for (let c = 0; c <= 0x9f; c++) all += String.fromCharCode(c);
    all += '\u2028\u2029';
    expect(escapeControls(all)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
  });
});
