/** A file ffmpeg reads: its path on disk and the name a client knows it by. */
export interface FfmpegInput {
  readonly path: string;
  readonly fileName: string;
}

/**
 * Why an ffmpeg that reads records failed: `damaged` when its messages name
 * one of its inputs (the record cannot be read: the same request fails the
 * same way until it is repaired), `failed` for this server's trouble (ffmpeg
 * not started, over its time limit, its output not written): worth asking
 * again later.
 */
export type FfmpegFailure =
  | { readonly kind: 'damaged'; readonly fileName: string; readonly why: string }
  | { readonly kind: 'failed'; readonly why: string };

/**
 * Reads an ffmpeg failure (pure). `what` names the job in messages
 * ("joining 2 parts", "cutting 'a.mp4'"); `output` is the file ffmpeg
 * writes, never shown (a server path): a message naming it says the output
 * could not be written. Server paths of the inputs are replaced by their
 * names.
 */
export function classifyFfmpegFailure(
  what: string,
  inputs: readonly FfmpegInput[],
  stderrTail: readonly string[],
  timedOutAfterMs: number | null,
  exit: number | string | null,
  output: string | null = null,
): FfmpegFailure {
  if (timedOutAfterMs !== null) return { kind: 'failed', why: `${what} took longer than ${Math.round(timedOutAfterMs / 1000)} s` };
  const spawnFailed = stderrTail.find((l) => l.startsWith('spawn failed'));
  if (spawnFailed) return { kind: 'failed', why: `ffmpeg could not be started (${spawnFailed.slice('spawn failed: '.length)})` };
  for (const input of inputs) {
    const line = stderrTail.find((l) => l.includes(input.path));
    if (line !== undefined) return { kind: 'damaged', fileName: input.fileName, why: `ffmpeg: ${line.split(input.path).join(input.fileName)}` };
  }
  if (output !== null) {
    const line = stderrTail.find((l) => l.includes(output));
    if (line !== undefined) {
      const reason = line.slice(line.lastIndexOf(output) + output.length).replace(/^[:\s]+/, '');
      return { kind: 'failed', why: `${what} failed: its output could not be written${reason === '' ? '' : ` (${reason})`}` };
    }
  }
  return { kind: 'failed', why: `${what} failed (ffmpeg exit ${exit})` };
}
