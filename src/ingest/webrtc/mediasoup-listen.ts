/**
 * Where a mediasoup WebRtcTransport listens and what it announces (pure).
 *
 * A UDP socket bound to 0.0.0.0 answers from whatever source address the
 * kernel picks for the route back. A browser on this host whose candidate
 * is 192.0.2.2 reaches the announced 127.0.0.1, and the worker's answer
 * leaves from 192.0.2.2: ICE (STUN) gets through, but the browser drops the
 * DTLS handshake from an address it never selected, and the publish ends
 * with "no RTP". werift gathers one socket per interface address; this does
 * the same for mediasoup. With `ip_local` = 0.0.0.0 (the default) there is
 * one listen address per IPv4 interface address, bound to that address, and
 * the announced `ip` (a LAN or 1:1 NAT address that is not one of them) is
 * announced for a socket bound to 0.0.0.0. With a specific `ip_local`, that
 * address alone, announcing `ip` when it differs.
 */
export interface ListenInfo {
  readonly protocol: 'udp';
  readonly ip: string;
  readonly announcedAddress?: string;
}

const ANY = '0.0.0.0';

function usable(ip: string): boolean {
  return ip !== '' && ip !== ANY;
}

export function mediasoupListenInfos(bindIp: string, announcedIp: string, interfaceAddresses: readonly string[]): ListenInfo[] {
  const bind = bindIp === '' ? ANY : bindIp;
  if (bind !== ANY) {
    return [usable(announcedIp) && announcedIp !== bind ? { protocol: 'udp', ip: bind, announcedAddress: announcedIp } : { protocol: 'udp', ip: bind }];
  }
  const own = [...new Set(interfaceAddresses.filter(usable))];
  const infos: ListenInfo[] = own.map((ip) => ({ protocol: 'udp', ip }));
  if (usable(announcedIp) && !own.includes(announcedIp)) infos.push({ protocol: 'udp', ip: ANY, announcedAddress: announcedIp });
  // no interface address known: listen on all and let the kernel choose (the old behaviour)
  return infos.length > 0 ? infos : [{ protocol: 'udp', ip: ANY }];
}

/** IPv4 addresses of this host's interfaces, loopback included. */
export function ipv4InterfaceAddresses(interfaces: NodeJS.Dict<{ family: string | number; address: string }[]>): string[] {
  const out: string[] = [];
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) if (a.family === 'IPv4' || a.family === 4) out.push(a.address);
  }
  return out;
}
