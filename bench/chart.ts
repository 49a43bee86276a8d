/**
 * `tsx bench/chart.ts <http.json> <out.png> [more.json …]`: throughput against concurrency
 * from bench/http.ts's BENCH_OUT files, as an SVG drawn here and rendered to PNG by the
 * Chromium the browser tests use (playwright-core). A dashed line marks the raw limit.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { launchBrowser } from '../test/helpers/browser.ts';

interface Run {
  connections: number;
  rps: number;
}
interface Figures {
  raw: number;
  series: { name: string; runs: Run[] }[];
}

const [input, output, ...more] = process.argv.slice(2);
if (!input || !output)
  throw new Error('usage: tsx bench/chart.ts <http.json> <out.png> [more.json …]');
const files = [input, ...more].map((f) => JSON.parse(readFileSync(f, 'utf8')) as Figures);
const raw = files[0]?.raw ?? 0;
const series = files.flatMap((f) => f.series);

const W = 760;
const H = 420;
const M = { left: 70, right: 20, top: 30, bottom: 110 };
const xs = [...new Set(series.flatMap((s) => s.runs.map((r) => r.connections)))].sort(
  (a, b) => a - b,
);
const yMax =
  Math.ceil((Math.max(raw, ...series.flatMap((s) => s.runs.map((r) => r.rps))) * 1.1) / 500) * 500;
// Concurrency on a log scale: 1, 8, 32, 64 spread evenly enough to read.
const x = (c: number) =>
  M.left +
  ((Math.log2(c) - Math.log2(xs[0] ?? 1)) /
    Math.max(1, Math.log2(xs.at(-1) ?? 2) - Math.log2(xs[0] ?? 1))) *
    (W - M.left - M.right);
const y = (v: number) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);
const COLOURS = ['#1f6feb', '#d1242f', '#2da44e', '#8250df', '#bf8700'];

const parts: string[] = [];
for (let v = 0; v <= yMax; v += yMax / 5) {
  parts.push(
    `<line x1="${M.left}" x2="${W - M.right}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
    `<text x="${M.left - 8}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`,
  );
}
for (const c of xs) {
  parts.push(`<text x="${x(c)}" y="${H - M.bottom + 18}" text-anchor="middle">${c}</text>`);
}
parts.push(
  `<text x="${(W + M.left) / 2}" y="${H - M.bottom + 38}" text-anchor="middle">connections (requests in flight)</text>`,
  `<text transform="translate(18 ${(H - M.bottom + M.top) / 2}) rotate(-90)" text-anchor="middle">tokens per second</text>`,
  `<line x1="${M.left}" x2="${W - M.right}" y1="${y(raw)}" y2="${y(raw)}" stroke="#555" stroke-dasharray="6 4"/>`,
  `<text x="${W - M.right}" y="${y(raw) - 6}" text-anchor="end">raw limit: jose verify + sign, ${raw.toFixed(0)}/s</text>`,
);
series.forEach((s, i) => {
  const colour = COLOURS[i % COLOURS.length];
  const points = s.runs.map((r) => `${x(r.connections)},${y(r.rps)}`).join(' ');
  parts.push(`<polyline points="${points}" fill="none" stroke="${colour}" stroke-width="2.5"/>`);
  for (const r of s.runs) {
    parts.push(`<circle cx="${x(r.connections)}" cy="${y(r.rps)}" r="3.5" fill="${colour}"/>`);
  }
  const ly = H - M.bottom + 58 + i * 16;
  parts.push(
    `<line x1="${M.left}" x2="${M.left + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${colour}" stroke-width="2.5"/>`,
    `<text x="${M.left + 32}" y="${ly}">${s.name}</text>`,
  );
});
const height = H - M.bottom + 58 + series.length * 16;
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>`;

const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: W, height } });
  await page.setContent(`<body style="margin:0">${svg}</body>`);
  writeFileSync(output, await page.locator('svg').screenshot());
  writeFileSync(output.replace(/\.png$/, '.svg'), svg);
} finally {
  await browser.close();
}
