import { describe, expect, it } from 'vitest';
import { ReadTurns, type TurnReader } from '../../src/ingest/rtmp/read-turns.js';

class Reader implements TurnReader {
  paused = false;
  destroyed = false;
  resumedAt: number[] = [];
  constructor(readonly log: string[], readonly name: string) {}
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
    this.log.push(this.name);
  }
}

const nextTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ReadTurns: what all connections read in one turn', () => {
  it('below the budget nothing waits; at the budget every connection waits for the next turn, then all read again', async () => {
    const log: string[] = [];
    const turns = new ReadTurns(1000);
    const [a, b, c] = ['a', 'b', 'c'].map((n) => new Reader(log, n)) as [Reader, Reader, Reader];
    for (const r of [a, b, c]) turns.add(r);
    turns.read(400);
    turns.read(500);
    expect([a.paused, b.paused, c.paused]).toEqual([false, false, false]);
    await nextTurn();
    // a new turn: the count starts again
    turns.read(900);
    expect(a.paused).toBe(false);
    turns.read(200);
    expect([a.paused, b.paused, c.paused]).toEqual([true, true, true]);
    await nextTurn();
    expect([a.paused, b.paused, c.paused]).toEqual([false, false, false]);
    expect(log.sort()).toEqual(['a', 'b', 'c']);
  });

  it('resumes from another connection each turn, and not one that closed', async () => {
    const log: string[] = [];
    const turns = new ReadTurns(10);
    const readers = ['a', 'b', 'c'].map((n) => new Reader(log, n));
    for (const r of readers) turns.add(r);
    const firsts: string[] = [];
    for (let i = 0; i < 3; i++) {
      log.length = 0;
      turns.read(10);
      await nextTurn();
      firsts.push(log[0]!);
    }
    expect(new Set(firsts).size).toBe(3);
    turns.delete(readers[1]!);
    readers[2]!.destroyed = true;
    log.length = 0;
    turns.read(10);
    await nextTurn();
    expect(log).toEqual(['a']);
  });
});
