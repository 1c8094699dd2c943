import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { multiRecorderStreamName, multiWorkFolderName, MultiRecorderUriError, parseMultiRecorderUri } from '../../src/recording/multi/multi-uri.js';
import { MULTI_WORK_PREFIX } from '../../src/recording/multi/multi-recorder.js';
import { nameRecord, type NameEncoding } from '../../src/recording/naming.js';

/** Whatever a client names a stream or a recorder, its files stay inside their directory and fit 255 bytes. */

const hostile = ['..', '.', '../../etc/passwd', '/etc/passwd', '/', '\\..\\..\\win', 'a/../../b', '....//', '.hidden', '~', 'x'.repeat(300), '€'.repeat(200), 'a:b*c?"<>|'];
const templates = ['{streamName}', '{streamName}-{startTimeMillis}', '../{streamName}', '{login}/{streamName}', '{streamName}{duration}'];
const encodings: NameEncoding[] = ['none', 'HEX', 'BASE64'];
const dir = '/srv/records';

function confined(name: string): void {
  expect(name).not.toBe('');
  expect(name).not.toBe('.');
  expect(name).not.toBe('..');
  expect(name.includes('/')).toBe(false);
  expect(name.includes('\0')).toBe(false);
  expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
  const full = path.resolve(dir, name);
  expect(path.dirname(full)).toBe(dir);
}

describe('record file names never leave record_dir', () => {
  for (const template of templates) {
    for (const encoding of encodings) {
      it(`${template} (${encoding})`, () => {
        for (const streamName of hostile) {
          for (const partIndex of [null, 1, 12]) {
            confined(nameRecord({ template, encoding, exclude: '/' }, { streamName, login: streamName, startTimeMillis: 1 }, 'empty', 'mp4', partIndex));
            confined(nameRecord({ template, encoding, exclude: '' }, { streamName, login: streamName }, 'keep', 'mkv', partIndex));
          }
        }
      });
    }
  }
});

describe('multiple recorder names', () => {
  it('the {streamName} and the work folder of hostile URIs stay one name inside multi_record_dir', () => {
    for (const name of hostile.filter((n) => [...`multi-recorder://${n}`].length <= 255)) {
      const uri = `multi-recorder://${name}`;
      // {streamName} is a template value (cut to fit when the file is named): no separator, never . or ..
      const streamName = multiRecorderStreamName(uri);
      expect(streamName.includes('/') || streamName.includes('\\')).toBe(false);
      expect(streamName.startsWith('multi-recorder__')).toBe(true);
      confined(multiWorkFolderName(MULTI_WORK_PREFIX, uri, Date.now()));
    }
  });

  it('a URI of 238 (or 255) characters gets a work folder that fits 255 bytes, distinct per URI', () => {
    const a = `multi-recorder://${'a'.repeat(221)}`;
    const b = `multi-recorder://${'a'.repeat(220)}b`;
    expect(a.length).toBe(238);
    const fa = multiWorkFolderName(MULTI_WORK_PREFIX, a, 1733500000000);
    const fb = multiWorkFolderName(MULTI_WORK_PREFIX, b, 1733500000000);
    expect(Buffer.byteLength(fa)).toBeLessThanOrEqual(255);
    expect(fa).not.toBe(fb);
    expect(fa.startsWith(MULTI_WORK_PREFIX + 'multi-recorder__aaaa')).toBe(true);
    expect(fa.endsWith('-1733500000000')).toBe(true);
    const multiByte = `multi-recorder://${'€'.repeat(238)}`;
    confined(multiWorkFolderName(MULTI_WORK_PREFIX, multiByte, 1733500000000));
  });

  it('a short URI keeps its readable folder name', () => {
    expect(multiWorkFolderName(MULTI_WORK_PREFIX, 'multi-recorder://room1', 5)).toBe('.multi-multi-recorder__room1-5');
  });

  it.each([
    ['NUL', 'multi-recorder://a\u0000b', /U\+0000/],
    ['line feed', 'multi-recorder://a\nb', /U\+000A/],
    ['U+2028', 'multi-recorder://a\u2028b', /U\+2028/],
    ['lone surrogate', 'multi-recorder://a\ud800', /well-formed/],
    ['no scheme', 'room1', /not a recorder URI/],
    ['too long', `multi-recorder://${'a'.repeat(239)}`, /at most 255 characters/],
  ])('refuses %s with the reason', (_what, uri, reason) => {
    expect(() => parseMultiRecorderUri(uri)).toThrow(MultiRecorderUriError);
    expect(() => parseMultiRecorderUri(uri)).toThrow(reason);
  });
});
