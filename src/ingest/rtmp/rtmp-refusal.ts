/** A check refused what a client sent: the reason is ours, in words; the connection ends (issue 14). */
export class RtmpRefusal extends Error {}

/** One line saying what threw and where (the first stack frame), never the client's bytes. */
export function describeThrow(err: unknown): string {
  if (!(err instanceof Error)) return `threw ${String(err).slice(0, 200)}`;
  // the first frame outside Node's own internals, with the path cut to the package or our source
  const frame = err.stack
    ?.split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith('at ') && !l.includes('node:internal'))
    ?.replace(/(\(|at )[^()]*?(node_modules\/|\/(?=(?:src|dist)\/))/, '$1');
  return `${err.name}: ${err.message.slice(0, 200)}${frame ? ` ${frame}` : ''}`;
}
