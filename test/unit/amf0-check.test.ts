import { describe, expect, it } from 'vitest';
import { checkAmfCommand, checkAmfData, MAX_AMF_DEPTH, walkAmf0 } from '../../src/ingest/rtmp/amf0-check.js';
import { amf0All, AmfRaw, type AmfValue } from '../fuzz/rtmp-wire.js';

const url = 'rtmp://127.0.0.1/live';
const ecmaArray = (props: Buffer): AmfRaw => new AmfRaw(Buffer.concat([Buffer.from([0x08, 0, 0, 0, 1]), props, Buffer.from([0, 0, 9])]));

describe('walkAmf0', () => {
  it('walks what ffmpeg and OBS send', () => {
    const connect = amf0All(['connect', 1, { app: 'live', type: 'nonprivate', flashVer: 'FMLE/3.0', tcUrl: url, fpad: false, capabilities: 15, audioCodecs: 4071 }]);
    expect(walkAmf0(connect)).toMatchObject({ ok: true, values: [{ marker: 2 }, { marker: 0 }, { marker: 3 }] });
    const meta = amf0All(['@setDataFrame', 'onMetaData', ecmaArray(Buffer.concat([Buffer.from([0, 5]), Buffer.from('width'), Buffer.from([0, 0x40, 0x84, 0, 0, 0, 0, 0, 0])]))]);
    expect(walkAmf0(meta).ok).toBe(true);
    expect(walkAmf0(amf0All([null, undefined, true, [1, 'a'], 'x'.repeat(70000)])).ok).toBe(true);
  });

  it.each([
    ['a number cut short', Buffer.from([0x00, 1, 2]), /number at byte 1 runs past the end/],
    ['a string longer than the message', Buffer.from([0x02, 0, 10, 0x61]), /string at byte 3 runs past the end/],
    ['an unknown marker', Buffer.from([0x42]), /marker 0x42 at byte 0 is not accepted/],
    ['an XML document (node-media-server reads its length wrong)', Buffer.from([0x0f, 0, 0]), /marker 0x0f/],
    ['an object without its end', Buffer.from([0x03, 0, 1, 0x61, 0x05]), /property name at byte 5 runs past the end/],
    ['an empty key without object end', Buffer.from([0x03, 0, 0, 0x05]), /empty property name without object end/],
    ['a strict array claiming more values than bytes', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x05]), /strict array of 4294967295 values in 1 bytes/],
    ['a value marked object end', Buffer.from([0x09]), /marker 0x09/],
  ] as const)('refuses %s', (_what, bytes, reason) => {
    const walk = walkAmf0(bytes);
    expect(walk.ok).toBe(false);
    if (!walk.ok) expect(walk.reason).toMatch(reason);
  });

  it(`refuses nesting deeper than ${MAX_AMF_DEPTH}`, () => {
    let v: AmfValue = null;
    for (let i = 0; i < MAX_AMF_DEPTH; i++) v = { a: v };
    expect(walkAmf0(amf0All([v])).ok).toBe(true);
    const deep = Buffer.concat([...Array.from({ length: 5000 }, () => Buffer.from([0x03, 0x00, 0x01, 0x61])), Buffer.from([0x05])]);
    expect(walkAmf0(deep)).toMatchObject({ ok: false, reason: expect.stringMatching(/nested deeper than 16/) });
  });
});

describe('checkAmfCommand and checkAmfData', () => {
  it.each([
    ['connect', amf0All(['connect', 1, { app: 'live', tcUrl: url }]), null],
    ['a number for a name', amf0All([7, 1]), /without a command name/],
    ["'constructor' (node-media-server would call Object's)", amf0All(['constructor', 1, null]), /named 'constructor' is not a command/],
    ['__proto__', amf0All(['__proto__', 1, null]), /is not a command/],
    ['garbage', Buffer.from([0x02, 0, 7, 0x63]), /malformed AMF command/],
  ] as const)('command: %s', (_what, payload, reason) => {
    const r = checkAmfCommand(payload);
    if (reason === null) expect(r).toBeNull();
    else expect(r).toMatch(reason);
  });

  it.each([
    ['@setDataFrame with an object', amf0All(['@setDataFrame', 'onMetaData', { width: 640 }]), null],
    ['onMetaData with null', amf0All(['onMetaData', null]), null],
    ['@setDataFrame without metadata', amf0All(['@setDataFrame', 'onMetaData']), /@setDataFrame without a metadata object/],
    ['@setDataFrame with undefined', amf0All(['@setDataFrame', 'onMetaData', undefined]), /without a metadata object/],
    ['onMetaData with a number', amf0All(['onMetaData', 3]), /without a metadata object/],
    ['other data', amf0All(['onTextData', { text: 'hi' }]), null],
    ['toString', amf0All(['toString', 1]), /is not a data message/],
  ] as const)('data: %s', (_what, payload, reason) => {
    const r = checkAmfData(payload);
    if (reason === null) expect(r).toBeNull();
    else expect(r).toMatch(reason);
  });
});
