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

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('on_record_hook_timeout and the hook queue', () => {
  it('a hook past the timeout is ended with its whole process group (a child it started too), logged as timedOut', async () => {
    const pidFile = path.join(dir, 'grandchild.pid');
    // the script starts a background sleep (same process group), records its pid and waits
    const s = script('slow.sh', `#!/bin/sh\nsleep 300 &\necho $! > ${pidFile}\nwait\n`);
    const runner = new HookRunner(s, dir, log, { timeoutMs: 300, killGraceMs: 200 });
    const outcomes: string[] = [];
    runner.on('done', (o) => outcomes.push(o));
    const r = await runner.run('s', '/rec/slow.mp4', { stream: 's', mediaSessionId: 'm1' });
    expect(r.ran).toBe(true);
    expect(r.timedOut).toBe(true);
    expect(runner.timedOut).toBe(1);
    expect(runner.failed).toBe(1);
    expect(outcomes).toEqual(['timeout']);
    const grandchild = Number(fs.readFileSync(pidFile, 'utf8').trim());
    await until(() => !alive(grandchild), 'the hook child to be gone');
  });

  it('a hook that ignores SIGTERM gets SIGKILL after the grace', async () => {
    const s = script('stubborn.sh', `#!/bin/sh\ntrap '' TERM\nwhile true; do sleep 0.1; done\n`);
    const runner = new HookRunner(s, dir, log, { timeoutMs: 200, killGraceMs: 200 });
    const r = await runner.run('s', '/rec/x.mp4', { mediaSessionId: 'm2' });
    expect(r.timedOut).toBe(true);
    expect(r.code).toBeNull();
  });

  it('a full queue: the hook is not run, the result says dropped, counted', async () => {
    const { HookQueue } = await import('../../src/recording/hook-queue.js');
    const queue = new HookQueue(1, 1);
    const marker = path.join(dir, 'gate');
    const s = script('gate.sh', `#!/bin/sh\nwhile [ ! -e ${marker} ]; do sleep 0.05; done\necho "$2" >> ${dir}/ran.txt\n`);
    const runner = new HookRunner(s, dir, log, { queue });
    const outcomes: string[] = [];
    runner.on('done', (o) => outcomes.push(o));
    const a = runner.run('s', 'a', { mediaSessionId: 'a' });
    const b = runner.run('s', 'b', { mediaSessionId: 'b' });
    const c = await runner.run('s', 'c', { mediaSessionId: 'c' });
    expect(c).toEqual({ ran: false, code: null, dropped: true });
    expect(runner.dropped).toBe(1);
    fs.writeFileSync(marker, '');
    expect((await a).code).toBe(0);
    expect((await b).code).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'ran.txt'), 'utf8').split('\n').filter(Boolean).sort()).toEqual(['a', 'b']);
    expect(outcomes).toEqual(['dropped', 'ok', 'ok']);
  });
});
