import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  encodeName,
  MAX_FILE_NAME_BYTES,
  nameRecord,
  parseNameEncoding,
  type NameEncoding,
  type NamingRules,
  type TemplateValues,
} from '../../src/recording/naming.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

// ---------------------------------------------------------------------------
// parseNameEncoding (WCS encode_record_name)
// ---------------------------------------------------------------------------

describe('parseNameEncoding', () => {
  it.each<[string, NameEncoding | null]>([
    ['false', 'none'],
    ['FALSE', 'none'],
    ['', 'none'],
    ['true,HEX', 'HEX'],
    ['true, HEX', 'HEX'],
    [' true , HEX ', 'HEX'],
    ['TRUE,hex', 'HEX'],
    ['true,BASE64', 'BASE64'],
    ['true, base64', 'BASE64'],
    ['true', null],
    ['yes', null],
    ['true,BASE32', null],
    ['false,HEX', null],
    ['true,HEX,BASE64', null],
    ['HEX', null],
  ])('%j -> %j', (raw, expected) => {
    expect(parseNameEncoding(raw)).toBe(expected);
  });
});

// ---------------------------------------------------------------------------
// encodeName
// ---------------------------------------------------------------------------

describe('encodeName', () => {
  it.each([
    ['stream/1', '73747265616d2f31'],
    ['test', '74657374'],
    ['', ''],
    ['é', 'c3a9'],
  ])('HEX of %j = %s', (name, hex) => {
    expect(encodeName(name, 'HEX')).toBe(hex);
  });

  it.each([
    // standard base64 "Pj4+Pw==" -> url-safe, no padding
    ['>>>?', 'Pj4-Pw'],
    // standard base64 "Pz8/" -> '_' instead of '/'
    ['???', 'Pz8_'],
    // standard base64 "c3RyZWFtLzE=" -> no '='
    ['stream/1', 'c3RyZWFtLzE'],
    ['test', 'dGVzdA'],
  ])('BASE64 of %j = %s (base64url, no padding)', (name, encoded) => {
    expect(encodeName(name, 'BASE64')).toBe(encoded);
    expect(Buffer.from(encoded, 'base64url').toString('utf8')).toBe(name);
  });

  it('BASE64 never contains "/", "+" or "="', () => {
    for (let i = 0; i < 256; i++) {
      const name = String.fromCharCode(i, 255 - i, (i * 7) & 0xff) + '/?>~';
      const encoded = encodeName(name, 'BASE64');
      expect(encoded).not.toMatch(/[/+=]/);
      expect(Buffer.from(encoded, 'base64url').toString('utf8')).toBe(name);
    }
  });

  it("'none' leaves the name as it is", () => {
    expect(encodeName('stream/1', 'none')).toBe('stream/1');
  });
});

// ---------------------------------------------------------------------------
// nameRecord
// ---------------------------------------------------------------------------

const rules = (template: string, encoding: NameEncoding = 'none', exclude = '/'): NamingRules => ({ template, encoding, exclude });

describe('nameRecord: WCS document cases', () => {
  it('rotation example: test-1553577643961-1553577663988_1.mp4', () => {
    const values: TemplateValues = { streamName: 'test', startTime: 1553577643961, endTime: 1553577663988 };
    expect(nameRecord(rules('{streamName}-{startTime}-{endTime}'), values, 'empty', 'mp4', 1)).toBe('test-1553577643961-1553577663988_1.mp4');
  });

  it.each<[TemplateValues, number, string]>([
    [{ streamName: 'test', startTime: 1553577643961, endTime: 1553577663988 }, 1, 'test-1553577643961-1553577663988_1.mp4'],
    [{ streamName: 'test', startTime: 1553577663989, endTime: 1553577683997 }, 2, 'test-1553577663989-1553577683997_2.mp4'],
    [{ streamName: 'test', startTime: 1553577683997, endTime: 1553577701626 }, 3, 'test-1553577683997-1553577701626_3.mp4'],
  ])('rotation parts %j, part %d -> %s', (values, partIndex, expected) => {
    expect(nameRecord(rules('{streamName}-{startTime}-{endTime}'), values, 'empty', 'mp4', partIndex)).toBe(expected);
  });

  it('record_rotation_index_enabled=false (partIndex null): no suffix', () => {
    const values: TemplateValues = { streamName: 'test', startTime: 1553577643961, endTime: 1553577663988 };
    expect(nameRecord(rules('{streamName}-{startTime}-{endTime}'), values, 'empty', 'mp4', null)).toBe('test-1553577643961-1553577663988.mp4');
  });

  it('stream_record_policy_template={streamName}: stream_ffmpeg.mp4', () => {
    expect(nameRecord(rules('{streamName}'), { streamName: 'stream_ffmpeg' }, 'empty', 'mp4', null)).toBe('stream_ffmpeg.mp4');
  });

  it('VP8+opus: extension webm', () => {
    expect(nameRecord(rules('{streamName}'), { streamName: 'stream_ffmpeg' }, 'empty', 'webm', null)).toBe('stream_ffmpeg.webm');
  });

  it("missing 'keep' leaves an unknown element literally (recording in progress)", () => {
    const values: TemplateValues = { streamName: 'test', startTime: 1563776083752 };
    expect(nameRecord(rules('{streamName}-{startTime}-{endTime}'), values, 'keep', 'mp4', null)).toBe('test-1563776083752-{endTime}.mp4');
    expect(nameRecord(rules('{streamName}-{startTime}-{endTime}'), values, 'empty', 'mp4', null)).toBe('test-1563776083752-.mp4');
  });
});

describe('nameRecord: encode_record_name', () => {
  it.each<[NameEncoding, number | null, string]>([
    ['HEX', null, '73747265616d2f31.mp4'],
    ['HEX', 1, '73747265616d2f31_1.mp4'],
    ['HEX', 12, '73747265616d2f31_12.mp4'],
    ['BASE64', null, 'c3RyZWFtLzE.mp4'],
    ['BASE64', 3, 'c3RyZWFtLzE_3.mp4'],
    ['none', 2, 'stream1_2.mp4'],
  ])('%s, part %j: the rendered name is encoded, not the suffix or extension -> %s', (encoding, partIndex, expected) => {
    expect(nameRecord(rules('{streamName}', encoding), { streamName: 'stream/1' }, 'empty', 'mp4', partIndex)).toBe(expected);
  });

  it('HEX encodes the whole rendered template', () => {
    const values: TemplateValues = { streamName: 'a/b', startTime: 1, endTime: 2 };
    const expected = Buffer.from('a/b-1-2').toString('hex');
    expect(nameRecord(rules('{streamName}-{startTime}-{endTime}', 'HEX'), values, 'empty', 'ts', 4)).toBe(`${expected}_4.ts`);
  });

  it('BASE64 of a name whose standard base64 has "+", "/" and "=" gives a valid file name', () => {
    const name = nameRecord(rules('{streamName}', 'BASE64'), { streamName: '>>>?' }, 'empty', 'mp4', 1);
    expect(name).toBe('Pj4-Pw_1.mp4');
    const name2 = nameRecord(rules('{streamName}', 'BASE64'), { streamName: '???' }, 'empty', 'mp4', null);
    expect(name2).toBe('Pz8_.mp4');
  });
});

describe('nameRecord: exclude_record_name_characters', () => {
  it.each<[string, string, number | null, string]>([
    // exclude_record_name_characters=:.,/
    [':.,/', 'live:cam.1,a/b', null, 'livecam1ab.mp4'],
    [':.,/', 'live:cam.1,a/b', 7, 'livecam1ab_7.mp4'],
    // default "/"
    ['/', 'live:cam.1,a/b', null, 'live:cam.1,ab.mp4'],
    // "/" is always removed, even when not listed
    ['', 'a/b', null, 'ab.mp4'],
    [':', 'a/b:c', 1, 'abc_1.mp4'],
  ])('exclude %j, stream %j, part %j -> %s', (exclude, streamName, partIndex, expected) => {
    expect(nameRecord(rules('{streamName}', 'none', exclude), { streamName }, 'empty', 'mp4', partIndex)).toBe(expected);
  });

  it('excluding "." does not touch the extension dot', () => {
    expect(nameRecord(rules('{streamName}', 'none', '.'), { streamName: 'a.b.c' }, 'empty', 'webm', 2)).toBe('abc_2.webm');
  });
});

describe('nameRecord: 255-byte limit', () => {
  it.each<[string, string]>([
    ['ascii', 'a'.repeat(300)],
    ['two-byte characters', 'é'.repeat(300)],
    ['three-byte characters', '流'.repeat(300)],
    ['four-byte characters', '😀'.repeat(300)],
  ])('a 300-character %s stream name, part 12, webm: ends with _12.webm and fits 255 bytes', (_label, streamName) => {
    const name = nameRecord(rules('{streamName}'), { streamName }, 'empty', 'webm', 12);
    expect(name.endsWith('_12.webm')).toBe(true);
    expect(bytes(name)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
    expect(Buffer.from(name, 'utf8').toString('utf8')).toBe(name);
    expect(name.includes('\uFFFD')).toBe(false);
    // the base is a prefix of the stream name
    expect(streamName.startsWith(name.slice(0, -'_12.webm'.length))).toBe(true);
  });

  it('ascii: exactly 255 bytes', () => {
    const name = nameRecord(rules('{streamName}'), { streamName: 'a'.repeat(300) }, 'empty', 'webm', 12);
    expect(name).toBe('a'.repeat(255 - '_12.webm'.length) + '_12.webm');
  });

  it('HEX of a long name is cut too, suffix and extension kept', () => {
    const name = nameRecord(rules('{streamName}', 'HEX'), { streamName: 'x'.repeat(200) }, 'empty', 'mp4', 3);
    expect(bytes(name)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
    expect(name.endsWith('_3.mp4')).toBe(true);
    expect(name.startsWith('78787878')).toBe(true);
  });
});

describe('nameRecord: no path separator, never hidden', () => {
  const templates = ['{streamName}', '{streamName}-{startTime}', 'rec/{streamName}', '../{streamName}', '{login}/{streamName}', '.{streamName}'];
  it.each(['../../etc/passwd', '../', '..', '.', '/', '//', '/etc/passwd', 'a/../../b', '..\\..\\win', '.hidden', './x', '', '\u0000/\n'])(
    'template value %j',
    (value) => {
      const values: TemplateValues = { streamName: value, login: value, startTime: 1 };
      for (const template of templates) {
        for (const encoding of ['none', 'HEX', 'BASE64'] as const) {
          for (const exclude of ['/', ':.,/', '']) {
            for (const partIndex of [null, 1]) {
              for (const missing of ['keep', 'empty'] as const) {
                const name = nameRecord(rules(template, encoding, exclude), values, missing, 'mp4', partIndex);
                const ctx = JSON.stringify({ template, encoding, exclude, partIndex, missing, name });
                expect(name, ctx).not.toContain('/');
                expect(name, ctx).not.toContain('\\');
                expect(name.startsWith('.'), ctx).toBe(false);
                expect(name, ctx).not.toMatch(/[\u0000-\u001f]/);
                expect(path.posix.basename(name), ctx).toBe(name);
                expect(path.win32.basename(name), ctx).toBe(name);
                expect(name.endsWith('.mp4'), ctx).toBe(true);
                expect(name.length, ctx).toBeGreaterThan('.mp4'.length);
              }
            }
          }
        }
      }
    },
  );
});
