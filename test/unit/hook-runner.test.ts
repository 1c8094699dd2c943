import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { hookArgs, HookRunner } from '../../src/recording/hook-runner.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hook-runner-'));
const log = pino({ level: 'silent' });

function script(name: string, body: string, mode = 0o755): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, body);
  fs.chmodSync(p, mode);
  return p;
}

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('hookArgs', () => {
  it('escapes control characters so no NUL reaches argv and no line is forged', () => {
    expect(hookArgs(['nul\u0000byte', 'a\nb', 'plain'])).toEqual(['nul\\u0000byte', 'a\\u000ab', 'plain']);
  });
});

describe('HookRunner never throws', () => {
  it('a NUL in an argument: the hook runs with the escaped argument (no ERR_INVALID_ARG_VALUE)', async () => {
    const out = path.join(dir, 'args.txt');
    const s = script('echo.sh', `#!/bin/sh\nprintf '%s|%s' "$1" "$2" > ${out}\n`);
    const runner = new HookRunner(s, dir, log);
    const r = await runner.run('nul\u0000byte\nforged', '/rec/x.mp4', { stream: 'x', mediaSessionId: 'm' });
    expect(r).toEqual({ ran: true, code: 0 });
    expect(fs.readFileSync(out, 'utf8')).toBe('nul\\u0000byte\\u000aforged|/rec/x.mp4');
    expect(runner.failed).toBe(0);
  });

  it.each([
    ['missing script', () => path.join(dir, 'nope.sh')],
    ['not executable (EACCES)', () => script('noexec.sh', '#!/bin/sh\nexit 0\n', 0o644)],
    ['a bad interpreter (spawn error event)', () => script('badshebang.sh', '#!/nonexistent/interpreter\n')],
    ['a NUL in the script path (spawn throws)', () => `${dir}/x\u0000y`],
  ])('%s: resolves ran=false and counts a failed hook', async (_what, make) => {
    const runner = new HookRunner(make(), dir, log);
    await expect(runner.run('s', '/rec/x.mp4', { stream: 's', mediaSessionId: 'm' })).resolves.toEqual({ ran: false, code: null });
    expect(runner.failed).toBe(1);
  });

  it('a hook exiting non-zero counts as failed', async () => {
    const runner = new HookRunner(script('fail.sh', '#!/bin/sh\nexit 3\n'), dir, log);
    expect(await runner.run('s', '/f', {})).toEqual({ ran: true, code: 3 });
    expect(runner.failed).toBe(1);
  });
});
