#!/usr/bin/env node
// Top functions of a V8 .cpuprofile (node --cpu-prof), by self time and by
// total (inclusive) time, with the share of the sampled time; plus the share
// of the garbage collector, idle and "program" (native) pseudo-frames, and a
// folded-stack file for a flame graph (flamegraph.pl / speedscope).
//
//   node bench/cpuprofile-top.mjs FILE.cpuprofile [--top 25] [--folded OUT.folded]
//
// Times are sampled CPU time of the main thread only (worker threads and
// the libuv thread pool are not in a .cpuprofile).
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
if (!file) {
  console.log('usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [--top 25] [--folded OUT.folded]');
  process.exit(2);
}
const TOP = Number(opt('top', '25'));
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// sampled time per node: timeDeltas[i] is the time before sample i
const selfUs = new Map();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const shortUrl = (u) => {
  if (!u) return '';
  const s = u.replace(/^file:\/\//, '');
  const nm = s.lastIndexOf('node_modules/');
  if (nm >= 0) return s.slice(nm + 'node_modules/'.length);
  const d = s.search(/\/(dist|src)\//);
  return d >= 0 ? s.slice(d + 1) : path.basename(s);
};
const label = (n) => {
  const f = n.callFrame;
  const name = f.functionName || '(anonymous)';
  return f.url ? `${name} ${shortUrl(f.url)}:${f.lineNumber + 1}` : name;
};

let total = 0;
const self = new Map();
const inclusive = new Map();
const folded = new Map();
for (const [id, us] of selfUs) {
  total += us;
  const n = nodes.get(id);
  self.set(label(n), (self.get(label(n)) ?? 0) + us);
  // inclusive: each distinct label on the stack once
  const seen = new Set();
  const stack = [];
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(nodes.get(cur));
    stack.push(l.replace(/;/g, ','));
    if (seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + us);
  }
  const key = stack.reverse().join(';');
  folded.set(key, (folded.get(key) ?? 0) + us);
}
const ms = (us) => (us / 1000).toFixed(0);
const pct = (us) => ((us / total) * 100).toFixed(1);
const wall = (profile.endTime - profile.startTime) / 1e6;
console.log(`${file}: ${profile.samples.length} samples over ${wall.toFixed(1)} s; sampled ${ms(total)} ms`);
for (const special of ['(idle)', '(garbage collector)', '(program)']) {
  console.log(`  ${special.padEnd(22)} ${ms(self.get(special) ?? 0).padStart(7)} ms ${pct(self.get(special) ?? 0).padStart(5)} %`);
}
const busy = total - (self.get('(idle)') ?? 0);
console.log(`  busy (all but idle)    ${ms(busy).padStart(7)} ms ${pct(busy).padStart(5)} %`);
const show = (title, map) => {
  console.log(`\n${title} (ms, % of sampled time, % of busy time):`);
  const rows = [...map].filter(([l]) => l !== '(idle)' && l !== '(root)').sort((a, b) => b[1] - a[1]).slice(0, TOP);
  for (const [l, us] of rows) console.log(`${ms(us).padStart(7)} ${pct(us).padStart(5)} % ${((us / busy) * 100).toFixed(1).padStart(5)} %  ${l}`);
};
show('top by self time', self);
show('top by total time', inclusive);
const out = opt('folded', null);
if (out) {
  fs.writeFileSync(out, [...folded].map(([k, us]) => `${k} ${Math.round(us)}`).join('\n') + '\n');
  console.log(`\nfolded stacks (µs) written to ${out}`);
}
