import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROPERTIES } from '../../src/config/server-config.js';

const readme = fs.readFileSync(path.resolve(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');

describe('configuration reference (docs/configuration.md)', () => {
  it.each(Object.values(PROPERTIES).map((d) => [d.key, d.defaultValue] as const))('documents %s with its default', (key, def) => {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
    expect(row, `docs/configuration.md row for ${key}`).toBeDefined();
    const cell = row!.split('|')[2]!.trim();
    expect(cell === `\`${def}\`` || (def === '' && cell === '*(empty)*')).toBe(true);
  });
});
