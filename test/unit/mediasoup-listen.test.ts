import { describe, expect, it } from 'vitest';
import { ipv4InterfaceAddresses, mediasoupListenInfos } from '../../src/ingest/webrtc/mediasoup-listen.js';

describe('mediasoup listen addresses', () => {
  it('ip_local 0.0.0.0: one socket bound to each interface address, so answers leave from the address the browser chose', () => {
    expect(mediasoupListenInfos('0.0.0.0', '127.0.0.1', ['127.0.0.1', '192.0.2.2'])).toEqual([
      { protocol: 'udp', ip: '127.0.0.1' },
      { protocol: 'udp', ip: '192.0.2.2' },
    ]);
    expect(mediasoupListenInfos('', '', ['127.0.0.1'])).toEqual([{ protocol: 'udp', ip: '127.0.0.1' }]);
  });

  it('an announced address that is not on this host (1:1 NAT) is announced for a socket on all addresses', () => {
    expect(mediasoupListenInfos('0.0.0.0', '203.0.113.7', ['127.0.0.1', '10.0.0.5', '10.0.0.5'])).toEqual([
      { protocol: 'udp', ip: '127.0.0.1' },
      { protocol: 'udp', ip: '10.0.0.5' },
      { protocol: 'udp', ip: '0.0.0.0', announcedAddress: '203.0.113.7' },
    ]);
  });

  it('a specific ip_local: that address alone, announcing ip when it differs', () => {
    expect(mediasoupListenInfos('10.0.0.5', '203.0.113.7', ['127.0.0.1', '10.0.0.5'])).toEqual([{ protocol: 'udp', ip: '10.0.0.5', announcedAddress: '203.0.113.7' }]);
    expect(mediasoupListenInfos('127.0.0.1', '127.0.0.1', [])).toEqual([{ protocol: 'udp', ip: '127.0.0.1' }]);
    expect(mediasoupListenInfos('127.0.0.1', '0.0.0.0', [])).toEqual([{ protocol: 'udp', ip: '127.0.0.1' }]);
  });

  it('no interface address known: all addresses, as before', () => {
    expect(mediasoupListenInfos('0.0.0.0', '', [])).toEqual([{ protocol: 'udp', ip: '0.0.0.0' }]);
  });

  it('IPv4 interface addresses, loopback included, whatever Node calls the family', () => {
    expect(
      ipv4InterfaceAddresses({
        lo: [{ family: 'IPv4', address: '127.0.0.1' }, { family: 'IPv6', address: '::1' }],
        eth0: [{ family: 4, address: '192.0.2.2' }],
        none: undefined,
      }),
    ).toEqual(['127.0.0.1', '192.0.2.2']);
  });
});
