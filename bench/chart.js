#!/usr/bin/env node
// Draws the bench's results (no dependencies: the SVG is written by hand).
//
//   node bench/chart.js [RESULTS_JSON]
//
// Reads bench/results.json (written by `npm run bench`) and writes:
//   docs/bench-latency.svg  spawn latency of `true` against the caller's heap,
//                           child_process.spawn vs remoteSpawn, with the C floor;
//   bench/performance.md    the README's Performance section: machine, date,
//                           chart, table and targets.
// When README.md has the lines <!-- bench:start --> and <!-- bench:end -->,
// the section between them is replaced too.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const input = path.resolve(process.argv[2] ?? path.join(__dirname, 'results.json'));
const SVG_OUT = path.join(ROOT, 'docs', 'bench-latency.svg');
const MD_OUT = path.join(__dirname, 'performance.md');
const README = path.join(ROOT, 'README.md');

let results;
try {
  results = JSON.parse(fs.readFileSync(input, 'utf8'));
} catch (error) {
  process.stderr.write(`chart: cannot read ${input} (${error.message}); run \`npm run bench\` first\n`);
  process.exit(1);
}
const rowById = new Map(results.rows.map((r) => [r.id, r]));
const m = results.machine;
const day = m.date.slice(0, 10);
const machineLine = `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.kernel}, Node ${m.node}`;

// ---- SVG -----------------------------------------------------------------------

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (x) => +x.toFixed(1);

function latencyChart() {
  const sizes = [50, 500, 1024];
  const series = [
    { key: 'spawn.local.js', label: 'child_process.spawn', sub: 'caller holds JS heap', color: '#c0392b', dash: '' },
    { key: 'spawn.local.buf', label: 'child_process.spawn', sub: 'caller holds Buffers', color: '#e67e22', dash: '7 4' },
    { key: 'spawn.remote.js', label: 'remoteSpawn', sub: 'caller holds JS heap', color: '#1f5fa8', dash: '' },
    { key: 'spawn.remote.buf', label: 'remoteSpawn', sub: 'caller holds Buffers', color: '#17a2b8', dash: '7 4' },
    { key: 'spawn.floor.js', label: 'C posix_spawn + waitpid', sub: 'floor, separate small process', color: '#7f7f7f', dash: '2 3' },
  ].map((s) => ({ ...s, points: sizes.map((h) => ({ heap: h, row: rowById.get(`${s.key}${h}`) })).filter((p) => p.row && p.row.median !== null) }))
    .filter((s) => s.points.length > 0);
  if (series.length === 0) return null;

  const W = 760;
  const H = 460;
  const left = 64;
  const right = 240;
  const top = 64;
  const bottom = 56;
  const pw = W - left - right;
  const ph = H - top - bottom;

  // Log scale in ms, from a power-of-ten-ish step below the lowest min to above the highest max.
  const values = series.flatMap((s) => s.points.flatMap((p) => [p.row.min, p.row.max, p.row.median]));
  const steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
  const lo = [...steps].reverse().find((v) => v <= Math.min(...values)) ?? 0.1;
  const hi = steps.find((v) => v >= Math.max(...values)) ?? 1000;
  const y = (ms) => top + ph - ((Math.log10(ms) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph;
  const xMax = 1100;
  const x = (mb) => left + (mb / xMax) * pw;

  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="24" font-size="15" font-weight="bold">Spawn latency of true, call to 'exit', against the memory the caller holds</text>`);
  out.push(`<text x="${left}" y="42" fill="#555">${esc(`${day}: ${machineLine}`)}</text>`);
  out.push(`<text x="${left}" y="56" fill="#555">median (marker), 25th to 75th percentile (thick bar), min to max (thin bar); log scale</text>`);

  // Grid and axes.
  for (const v of steps.filter((s) => s >= lo && s <= hi)) {
    out.push(`<line x1="${left}" x2="${left + pw}" y1="${num(y(v))}" y2="${num(y(v))}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${left - 6}" y="${num(y(v) + 4)}" text-anchor="end">${v}</text>`);
  }
  for (const mb of [0, 250, 500, 750, 1000]) {
    out.push(`<line x1="${num(x(mb))}" x2="${num(x(mb))}" y1="${top + ph}" y2="${top + ph + 4}" stroke="#333"/>`);
    out.push(`<text x="${num(x(mb))}" y="${top + ph + 18}" text-anchor="middle">${mb}</text>`);
  }
  out.push(`<line x1="${left}" x2="${left + pw}" y1="${top + ph}" y2="${top + ph}" stroke="#333"/>`);
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + ph}" stroke="#333"/>`);
  out.push(`<text x="${left + pw / 2}" y="${H - 14}" text-anchor="middle">MB of touched memory held by the calling Node process</text>`);
  out.push(`<text transform="translate(16 ${top + ph / 2}) rotate(-90)" text-anchor="middle">milliseconds</text>`);

  // Series: min-max bars, median line and markers, slightly apart so the bars do not overlap.
  series.forEach((s, i) => {
    const dx = (i - (series.length - 1) / 2) * 7;
    const pts = s.points.map((p) => [x(p.heap) + dx, y(p.row.median)]);
    for (const p of s.points) {
      const px = num(x(p.heap) + dx);
      out.push(`<line x1="${px}" x2="${px}" y1="${num(y(p.row.min))}" y2="${num(y(p.row.max))}" stroke="${s.color}" stroke-opacity="0.4" stroke-width="1.5"/>`);
      if (p.row.p25 != null) out.push(`<line x1="${px}" x2="${px}" y1="${num(y(p.row.p25))}" y2="${num(y(p.row.p75))}" stroke="${s.color}" stroke-opacity="0.7" stroke-width="4"/>`);
    }
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${pts.map(([a, b]) => `${num(a)},${num(b)}`).join(' ')}"/>`);
    s.points.forEach((p, k) => {
      const [a, b] = pts[k];
      out.push(`<circle cx="${num(a)}" cy="${num(b)}" r="3.5" fill="${s.color}"><title>${esc(`${s.label}, ${p.heap} MB: median ${p.row.median.toFixed(3)} ms (min ${p.row.min.toFixed(3)}, max ${p.row.max.toFixed(3)}, n ${p.row.n})`)}</title></circle>`);
    });
  });

  // Legend, with the last heap's median as a label.
  series.forEach((s, i) => {
    const ly = top + 10 + i * 54;
    const lx = left + pw + 20;
    out.push(`<line x1="${lx}" x2="${lx + 24}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    out.push(`<circle cx="${lx + 12}" cy="${ly}" r="3.5" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 32}" y="${ly + 4}">${esc(s.label)}</text>`);
    out.push(`<text x="${lx + 32}" y="${ly + 18}" fill="#555">${esc(s.sub)}</text>`);
    const last = s.points[s.points.length - 1];
    out.push(`<text x="${lx + 32}" y="${ly + 32}" fill="#555">${esc(`${last.row.median.toFixed(2)} ms at ${last.heap} MB`)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

// ---- Markdown ------------------------------------------------------------------

/** A ratio or factor, with a third decimal when it is close to 1. */
const factor = (x) => (x > 0.9 && x < 1.1 ? x.toFixed(3) : x.toFixed(2));

function fmt(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return '';
  if (unit === 'ms') return v < 10 ? v.toFixed(2) : v.toFixed(1);
  if (unit === 'fds') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  return v >= 100 ? String(Math.round(v)) : v.toFixed(1);
}

function metText(r) {
  if (r.met === undefined) return r.targetNote ? 'n/a' : '';
  return r.met ? 'yes' : `**no**, ${factor(r.miss)}x off`;
}

/** The README's comparisons: [what, baseline row, sidecar-exec row]; the ratio is the sidecar row's. */
const HEADLINES = [
  ['spawn `true` to `exit`, caller holding 50 MB of JS heap', 'spawn.local.js50', 'spawn.remote.js50'],
  ['same, 500 MB of JS heap', 'spawn.local.js500', 'spawn.remote.js500'],
  ['same, 1 GB of JS heap', 'spawn.local.js1024', 'spawn.remote.js1024'],
  ['same, 50 MB of Buffers', 'spawn.local.buf50', 'spawn.remote.buf50'],
  ['same, 500 MB of Buffers', 'spawn.local.buf500', 'spawn.remote.buf500'],
  ['same, 1 GB of Buffers', 'spawn.local.buf1024', 'spawn.remote.buf1024'],
  ['spawn `true`, 50 MB JS heap, against the C posix_spawn floor', 'spawn.floor.js50', 'spawn.remoteVsFloor.js50'],
  ["`exec('echo hi')` to callback, 50 MB of JS heap", 'exec.local.js50', 'exec.remote.js50'],
  ["same, 1 GB of Buffers", 'exec.local.buf1024', 'exec.remote.buf1024'],
  ['event loop blocked in `spawn()`, 50 MB JS heap (pid set on return)', 'spawncall.local.js50', 'spawncall.remote.js50'],
  ['same with `startWait: 0` (pid at `spawn`)', 'spawncall.local.js50', 'spawncall.remote0.js50'],
  ['throughput: 2,000 `true`, 32 in flight', 'throughput.local', 'throughput.remote'],
  ['same with `startWait: 0`', 'throughput.local', 'throughput.remote0'],
  ["bytes: `head -c` through `'pipe'` into Node", 'bytes.pipe.local', 'bytes.pipe.remote'],
  ["bytes: `head -c` through `'inherit'` into a pipe", 'bytes.inherit.local', 'bytes.inherit.remote'],
  ['shim, one process per call: `s6-sudo` vs `sidecar exec` (Node CLI)', 'shim.s6', 'shim.cli'],
  ['shim: `s6-sudo` vs the native client', 'shim.s6', 'shim.native'],
  ["spawn `true` to `exit` from a server holding each program's whole tree (`containment: 'auto'`)", 'containment.none', 'containment.auto'],
];

const BASELINE_NAMES = { local: 'child_process', floor: 'C floor', s6: 's6-sudo', none: "`containment: 'none'`" };

function cell(r) {
  if (!r || r.median === null) return '';
  const range = r.n > 1 ? ` (${fmt(r.min, r.unit)}–${fmt(r.max, r.unit)})` : '';
  return `${fmt(r.median, r.unit)} ${r.unit}${range}`;
}

function markdownTable(rows) {
  const out = ['| | median | min | max | unit | ratio | target | met |', '|---|---:|---:|---:|---|---:|---|---|'];
  let section = null;
  for (const r of rows) {
    if (r.section !== section) {
      section = r.section;
      out.push(`| **${section.replace(/\|/g, '\\|')}** | | | | | | | |`);
    }
    const ratio = typeof r.ratio === 'number' ? `${r.ratio.toFixed(2)}x ${r.versus}` : '';
    const target = r.target ? `${r.target.op} ${r.target.value}` : (r.targetNote ? `(${r.targetNote})` : '');
    out.push(`| ${r.name.replace(/\|/g, '\\|')} | ${fmt(r.median, r.unit)} | ${fmt(r.min, r.unit)} | ${fmt(r.max, r.unit)} | ${r.unit} | ${ratio} | ${target} | ${metText(r)} |`);
  }
  return out;
}

function markdown(svgWritten) {
  const lines = [];
  lines.push('## Performance');
  lines.push('');
  lines.push(`Measured with \`npm run bench\` (then \`node bench/chart.js\`) on ${day}: ${machineLine}` +
    `${results.quick ? ' (quick run: reduced budgets)' : ''}. Each figure is the median of many runs, with min and max;` +
    ' each ratio is the median of per-pair ratios of two sides run alternately (A, B, A, B...) in the same process. The callers are separate Node processes' +
    ' holding the stated memory, as touched JS heap or as Buffers; the sidecar server is another, small, Node process' +
    ' on the same machine.');
  lines.push('');
  if (svgWritten) {
    lines.push('![Spawn latency against the memory the caller holds](docs/bench-latency.svg)');
    lines.push('');
  }
  lines.push('| | baseline, median (min–max) | sidecar-exec, median (min–max) | ratio | target | met |');
  lines.push('|---|---|---|---:|---|---|');
  for (const [what, baseId, ownId] of HEADLINES) {
    const base = rowById.get(baseId);
    const own = rowById.get(ownId);
    if (!base || !own) continue;
    const baseName = BASELINE_NAMES[baseId.split('.')[1]] ?? 'child_process';
    const ratio = typeof own.ratio === 'number' ? `${own.ratio.toFixed(2)}x` : '';
    const target = own.target ? `${own.target.op} ${own.target.value}` : (own.targetNote ? `(${own.targetNote})` : '');
    lines.push(`| ${what} | ${baseName}: ${cell(base)} | ${cell(own)} | ${ratio} | ${target} | ${metText(own)} |`);
  }
  const raw = results.raw?.servercost;
  if (raw) {
    lines.push('');
    lines.push(`Server cost: one server process holding ${raw.count} running remote \`sleep\`s grew from` +
      ` ${(raw.idle.rss / 2 ** 20).toFixed(1)} to ${(raw.holding.rss / 2 ** 20).toFixed(1)} MiB RSS` +
      ` (${(raw.rssPerProgram / 1024).toFixed(1)} KiB per program) and from ${raw.idle.fds} to ${raw.holding.fds} fds` +
      ` (${raw.fdsPerProgram.toFixed(2)} per program: its connection, its pidfd and, with a cgroup per program, its cgroup's directory);` +
      ` ${raw.after.fds} fds once they were all killed.`);
  }
  if (results.skipped?.length) {
    lines.push('');
    lines.push(`Skipped in this run: ${results.skipped.map((s) => `${s.name} (${s.reason})`).join('; ')}.`);
  }
  const targets = results.rows.filter((r) => r.met !== undefined);
  if (targets.length) {
    lines.push('');
    const missed = targets.filter((r) => !r.met);
    lines.push(`Targets met: ${targets.length - missed.length} of ${targets.length}.` +
      (missed.length ? ` Missed: ${missed.map((r) => `${r.label ?? r.name}: ${factor(r.ratio)}x for ${r.target.op} ${r.target.value} (${factor(r.miss)}x off)`).join('; ')}.` : ''));
  }
  const notes = path.join(__dirname, 'performance-notes.md');
  if (fs.existsSync(notes)) {
    lines.push('');
    lines.push(fs.readFileSync(notes, 'utf8').trim());
  }
  lines.push('');
  lines.push('<details><summary>Every figure of that run</summary>');
  lines.push('');
  lines.push(...markdownTable(results.rows));
  lines.push('');
  lines.push('</details>');
  lines.push('');
  return lines.join('\n');
}

const svg = latencyChart();
if (svg) {
  fs.mkdirSync(path.dirname(SVG_OUT), { recursive: true });
  fs.writeFileSync(SVG_OUT, svg);
  process.stderr.write(`chart: wrote ${path.relative(process.cwd(), SVG_OUT)}\n`);
} else {
  process.stderr.write('chart: no latency rows in the results: no SVG\n');
}
const md = markdown(Boolean(svg));
fs.writeFileSync(MD_OUT, md);
process.stderr.write(`chart: wrote ${path.relative(process.cwd(), MD_OUT)}\n`);

const START = '<!-- bench:start -->';
const END = '<!-- bench:end -->';
const readme = fs.existsSync(README) ? fs.readFileSync(README, 'utf8') : '';
const a = readme.indexOf(START);
const b = readme.indexOf(END);
if (a !== -1 && b > a) {
  fs.writeFileSync(README, `${readme.slice(0, a + START.length)}\n${md}${readme.slice(b)}`);
  process.stderr.write('chart: updated the Performance section of README.md\n');
}
