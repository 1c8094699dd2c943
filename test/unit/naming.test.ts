import { describe, expect, it } from 'vitest';
import {
  MAX_FILE_NAME_BYTES,
  recordFileName,
  renderTemplate,
  sanitizeFileName,
  TEMPLATE_ELEMENTS,
  templateElements,
  truncateUtf8,
  type TemplateElement,
  type TemplateValues,
} from '../../src/recording/naming.js';

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');
/** True when s survives a UTF-8 round trip (no lone surrogate, no split character). */
const isWholeUtf8 = (s: string) => Buffer.from(s, 'utf8').toString('utf8') === s && !s.includes('\uFFFD');

const UUID = '9c3e5a1f-7b2d-4e8a-9f10-0a1b2c3d4e5f';

describe('renderTemplate: WCS document cases', () => {
  it.each<[string, TemplateValues, 'keep' | 'empty', string]>([
    ['stream-{mediaSessionId}-{login}', { mediaSessionId: UUID, login: 'alice' }, 'keep', `stream-${UUID}-alice`],
    ['stream-{mediaSessionId}-{login}', { mediaSessionId: UUID, login: '' }, 'keep', `stream-${UUID}-`],
    ['stream-{mediaSessionId}-{login}', { mediaSessionId: UUID }, 'keep', `stream-${UUID}-{login}`],
    ['stream-{mediaSessionId}-{login}', { mediaSessionId: UUID }, 'empty', `stream-${UUID}-`],
    ['{streamName}', { streamName: 'stream_ffmpeg' }, 'keep', 'stream_ffmpeg'],
    // recording in progress: endTime not known yet, stays literal (WCS find_all)
    [
      '{streamName}-{startTime}-{endTime}',
      { streamName: 'test', startTime: '1563776083752' },
      'keep',
      'test-1563776083752-{endTime}',
    ],
    [
      '{mediaSessionId}-{streamName}-{startTime}-{endTime}',
      { mediaSessionId: '9c3e', streamName: 'test', startTime: 1563776083752 },
      'keep',
      '9c3e-test-1563776083752-{endTime}',
    ],
    ['{streamName}-{startTime}-{endTime}', { streamName: 'test' }, 'keep', 'test-{startTime}-{endTime}'],
    ['{streamName}-{startTime}-{endTime}', { streamName: 'test' }, 'empty', 'test--'],
    [
      '{streamName}-{startTime}-{endTime}',
      { streamName: 'test', startTime: 1563776083752, endTime: 1563776093752 },
      'empty',
      'test-1563776083752-1563776093752',
    ],
  ])('%s with %j (missing=%s) -> %s', (template, values, missing, expected) => {
    expect(renderTemplate(template, values, missing)).toBe(expected);
  });

  it("missing defaults to 'keep'", () => {
    expect(renderTemplate('{streamName}-{endTime}', { streamName: 's' })).toBe('s-{endTime}');
  });

  it('WCS find_all style name of a recording in progress', () => {
    const base = renderTemplate('{mediaSessionId}-{streamName}-{startTime}-{endTime}', {
      mediaSessionId: '9c3e',
      streamName: 'test',
      startTime: '1563776083752',
    });
    expect(recordFileName(base, 'mp4')).toBe('9c3e-test-1563776083752-{endTime}.mp4');
  });

  it('{streamName} -> stream_ffmpeg.mp4', () => {
    expect(recordFileName(renderTemplate('{streamName}', { streamName: 'stream_ffmpeg' }), 'mp4')).toBe(
      'stream_ffmpeg.mp4',
    );
  });
});

describe('renderTemplate: maximum sizes', () => {
  it.each<[TemplateElement, number]>([
    ['startTime', 20],
    ['endTime', 20],
    ['startTimeMillis', 20],
    ['endTimeMillis', 20],
    ['sessionId', 60],
    ['mediaSessionId', 36],
    ['login', 32],
    ['audioCodec', 4],
    ['videoCodec', 4],
  ])('{%s} is cut to %d characters', (element, max) => {
    expect(TEMPLATE_ELEMENTS[element]).toBe(max);
    const long = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    expect(long.length).toBeGreaterThan(max);
    expect(renderTemplate(`<{${element}}>`, { [element]: long })).toBe(`<${long.slice(0, max)}>`);
    // exactly max is kept, one less is kept
    expect(renderTemplate(`{${element}}`, { [element]: long.slice(0, max) })).toBe(long.slice(0, max));
    expect(renderTemplate(`{${element}}`, { [element]: long.slice(0, max - 1) })).toBe(long.slice(0, max - 1));
  });

  it.each<TemplateElement>(['streamName', 'duration'])('{%s} is not cut', (element) => {
    expect(TEMPLATE_ELEMENTS[element]).toBe(Infinity);
    const long = 'x'.repeat(1000);
    expect(renderTemplate(`{${element}}`, { [element]: long })).toBe(long);
  });

  it('a 36-character UUID mediaSessionId is kept whole', () => {
    expect(renderTemplate('{mediaSessionId}', { mediaSessionId: UUID })).toBe(UUID);
  });

  it('cuts by characters, never splitting a surrogate pair', () => {
    const login = '😀'.repeat(40);
    const out = renderTemplate('{login}', { login });
    expect([...out]).toHaveLength(32);
    expect(out).toBe('😀'.repeat(32));
    expect(isWholeUtf8(out)).toBe(true);
  });

  it('numbers are rendered with String()', () => {
    expect(renderTemplate('{duration}-{startTimeMillis}', { duration: 12345, startTimeMillis: 1563776083752 })).toBe(
      '12345-1563776083752',
    );
    expect(renderTemplate('{audioCodec}', { audioCodec: 123456 })).toBe('1234');
  });
});

describe('renderTemplate: other elements and odd input', () => {
  it.each<[string, TemplateValues, string]>([
    ['{foo}', { streamName: 's' }, '{foo}'],
    ['{streamName}-{foo}-{bar}', { streamName: 's' }, 's-{foo}-{bar}'],
    ['{StreamName}', { streamName: 's' }, '{StreamName}'],
    ['{ streamName }', { streamName: 's' }, '{ streamName }'],
    ['{stream_name}', { streamName: 's' }, '{stream_name}'],
    ['{}', { streamName: 's' }, '{}'],
    ['{{streamName}}', { streamName: 's' }, '{s}'],
    ['{streamName', { streamName: 's' }, '{streamName'],
    ['streamName}', { streamName: 's' }, 'streamName}'],
    ['{streamName}{streamName}', { streamName: 's' }, 'ss'],
    ['plain', { streamName: 's' }, 'plain'],
    ['', { streamName: 's' }, ''],
    // Object.prototype names are not elements
    ['{constructor}-{toString}-{hasOwnProperty}', {}, '{constructor}-{toString}-{hasOwnProperty}'],
    // replacement patterns in values are literal
    ['{streamName}', { streamName: '$&$1$$' }, '$&$1$$'],
  ])('%j with %j -> %j', (template, values, expected) => {
    expect(renderTemplate(template, values, 'keep')).toBe(expected);
  });

  it("unknown elements stay even with missing='empty'", () => {
    expect(renderTemplate('{foo}-{streamName}-{login}', { streamName: 's' }, 'empty')).toBe('{foo}-s-');
  });
});

describe('templateElements', () => {
  it.each<[string, TemplateElement[]]>([
    ['stream-{mediaSessionId}-{login}', ['mediaSessionId', 'login']],
    ['{streamName}', ['streamName']],
    ['{streamName}-{startTime}-{endTime}', ['streamName', 'startTime', 'endTime']],
    ['{login}-{streamName}-{login}', ['login', 'streamName']],
    ['{foo}-{streamName}-{constructor}', ['streamName']],
    ['no elements', []],
    ['', []],
    [
      '{streamName}{duration}{startTime}{endTime}{startTimeMillis}{endTimeMillis}{sessionId}{mediaSessionId}{login}{audioCodec}{videoCodec}',
      Object.keys(TEMPLATE_ELEMENTS) as TemplateElement[],
    ],
  ])('%j -> %j', (template, expected) => {
    expect(templateElements(template)).toEqual(expected);
  });
});

describe('truncateUtf8', () => {
  it.each<[string, number, string]>([
    ['abc', 3, 'abc'],
    ['abc', 2, 'ab'],
    ['abc', 0, ''],
    ['', 5, ''],
    ['éé', 4, 'éé'],
    ['éé', 3, 'é'],
    ['éé', 1, ''],
    ['a€b', 3, 'a'],
    ['a€b', 4, 'a€'],
    ['😀😀', 7, '😀'],
    ['😀😀', 3, ''],
    ['a😀', 4, 'a'],
  ])('truncateUtf8(%j, %d) = %j', (text, max, expected) => {
    const out = truncateUtf8(text, max);
    expect(out).toBe(expected);
    expect(bytes(out)).toBeLessThanOrEqual(max);
    expect(isWholeUtf8(out)).toBe(true);
  });
});

describe('sanitizeFileName', () => {
  it.each<[string, string | undefined, string]>([
    ['stream_ffmpeg', undefined, 'stream_ffmpeg'],
    ['a/b', undefined, 'ab'],
    ['a\\b', undefined, 'ab'],
    ['a\\b', 'x', 'ab'], // "\\" always removed
    ['a/b', 'x', 'ab'], // "/" always removed
    ['a\u0000b\u0001c\u001fd\u007fe', undefined, 'abcde'],
    ['line\nbreak\ttab\rcr', undefined, 'linebreaktabcr'],
    ['a:b.c,d/e', ':.,/', 'abcde'],
    ['x:y', ':', 'xy'],
    ['x:y', undefined, 'x:y'],
    ['.hidden', undefined, '_hidden'],
    ['.', undefined, '_'],
    ['..', undefined, '_.'],
    ['..', ':.,/', '_'],
    ['', undefined, '_'],
    ['///', undefined, '_'],
    ['\u0000', undefined, '_'],
    ['../../etc/passwd', undefined, '_...etcpasswd'],
    ['/.hidden', undefined, '_hidden'],
    ['ünïcode-😀', undefined, 'ünïcode-😀'],
    ['a😀b', '😀', 'ab'],
    ['{endTime}', undefined, '{endTime}'],
  ])('sanitizeFileName(%j, %j) = %j', (name, exclude, expected) => {
    const out = exclude === undefined ? sanitizeFileName(name) : sanitizeFileName(name, exclude);
    expect(out).toBe(expected);
  });

  it.each(['', '.', '..', '...', '/', '\\', '/..', '../', '\u0001..', './.', '. .'])(
    'result of %j is never empty, ".", "..", hidden, or containing a separator',
    (name) => {
      for (const exclude of ['/', ':.,/', '']) {
        const out = sanitizeFileName(name, exclude);
        expect(out).not.toBe('');
        expect(out).not.toBe('.');
        expect(out).not.toBe('..');
        expect(out.startsWith('.')).toBe(false);
        expect(out).not.toMatch(/[/\\\u0000-\u001f\u007f]/);
      }
    },
  );
});

describe('recordFileName', () => {
  it.each<[string, string, string | undefined, string | undefined, string]>([
    ['stream_ffmpeg', 'mp4', undefined, undefined, 'stream_ffmpeg.mp4'],
    ['stream_ffmpeg', 'mp4', '_1', undefined, 'stream_ffmpeg_1.mp4'],
    ['stream_ffmpeg', 'webm', '', undefined, 'stream_ffmpeg.webm'],
    ['a/b:c', 'mp4', '', ':/', 'abc.mp4'],
    ['', 'mp4', '', undefined, '_.mp4'],
    ['..', 'mp4', '', undefined, '_..mp4'],
    ['../x', 'mp4', '', undefined, '_.x.mp4'],
    ['.hidden', 'mp4', '', undefined, '_hidden.mp4'],
  ])('recordFileName(%j, %j, %j, %j) = %j', (base, ext, suffix, exclude, expected) => {
    expect(recordFileName(base, ext, suffix, exclude)).toBe(expected);
  });

  it('a name that fits exactly is kept', () => {
    const base = 'a'.repeat(251);
    expect(recordFileName(base, 'mp4')).toBe(base + '.mp4');
    expect(bytes(recordFileName(base, 'mp4'))).toBe(MAX_FILE_NAME_BYTES);
  });

  it.each<[string, string, string, string]>([
    ['300 ASCII', 'a'.repeat(300), '', 'mp4'],
    ['300 é (2 bytes each)', 'é'.repeat(300), '', 'mp4'],
    ['300 é with suffix', 'é'.repeat(300), '_12', 'mp4'],
    ['300 emoji (4 bytes each)', '😀'.repeat(300), '', 'mp4'],
    ['300 emoji with suffix', '😀'.repeat(300), '_12', 'webm'],
    ['odd prefix + é', 'ab' + 'é'.repeat(200), '', 'mp4'],
    ['odd prefix + €', 'x' + '€'.repeat(200), '_3', 'mp4'],
    ['mixed', ('a€é😀').repeat(100), '_7', 'flv'],
  ])('%s: whole name fits in 255 UTF-8 bytes, tail kept, no split character', (_label, base, suffix, ext) => {
    const out = recordFileName(base, ext, suffix);
    expect(bytes(out)).toBeLessThanOrEqual(MAX_FILE_NAME_BYTES);
    // no more than one character was needlessly dropped: close to the limit
    expect(bytes(out)).toBeGreaterThan(MAX_FILE_NAME_BYTES - 4);
    expect(out.endsWith(`${suffix}.${ext}`)).toBe(true);
    expect(isWholeUtf8(out)).toBe(true);
    const kept = out.slice(0, out.length - `${suffix}.${ext}`.length);
    expect(base.startsWith(kept)).toBe(true);
  });

  it('300 é -> exactly 125 é + .mp4', () => {
    const out = recordFileName('é'.repeat(300), 'mp4');
    expect(out).toBe('é'.repeat(125) + '.mp4');
    expect(bytes(out)).toBe(254);
  });

  it('300 emoji -> 62 emoji + .mp4', () => {
    const out = recordFileName('😀'.repeat(300), 'mp4');
    expect(out).toBe('😀'.repeat(62) + '.mp4');
    expect(bytes(out)).toBe(252);
  });

  it('render + sanitize pipeline never yields a path', () => {
    const base = renderTemplate('{streamName}-{login}', { streamName: '../../etc', login: 'a/b\\c' });
    const out = recordFileName(base, 'mp4');
    expect(out).not.toMatch(/[/\\]/);
    expect(out.startsWith('.')).toBe(false);
    expect(out).toBe('_...etc-abc.mp4');
  });
});

describe('sanitizeFileName strips C1 controls and line separators', () => {
  it.each([['a\u0085b', 'ab'], ['a\u009fb', 'ab'], ['a\u2028b\u2029c', 'abc'], ['é\u0080', 'é']])('%j -> %j', (input, out) => {
    expect(sanitizeFileName(input)).toBe(out);
  });
});
