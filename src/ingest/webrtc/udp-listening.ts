import fs from 'node:fs';

/** Local UDP ports bound on this host, from /proc/net/udp and udp6 (pure parser over their text). */
export function boundUdpPorts(procNetUdp: string): Set<number> {
  const out = new Set<number>();
  for (const line of procNetUdp.split('\n')) {
    // "  12: 0100007F:A41C 00000000:0000 07 ..." (local_address is the second field)
    const m = /^\s*\d+:\s+[0-9A-Fa-f]+:([0-9A-Fa-f]{4})\s/.exec(line);
    if (m) out.add(parseInt(m[1]!, 16));
  }
  return out;
}

async function readBound(): Promise<Set<number> | null> {
  try {
    const texts = await Promise.all(['/proc/net/udp', '/proc/net/udp6'].map((f) => fs.promises.readFile(f, 'utf8').catch(() => '')));
    return boundUdpPorts(texts.join('\n'));
  } catch {
    return null;
  }
}

/**
 * Resolves true once every port is bound by some socket on this host
 * (polled every `stepMs`), false after `timeoutMs` or where /proc/net/udp
 * cannot be read (then the caller goes on as if bound).
 */
export async function waitForUdpListeners(ports: readonly number[], timeoutMs: number, stepMs = 20, stop: () => boolean = () => false): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const bound = await readBound();
    if (bound === null) return false;
    if (ports.every((p) => bound.has(p))) return true;
    if (Date.now() >= deadline || stop()) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
