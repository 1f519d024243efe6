/**
 * The parity report: its JSON shape (parity-report.json), the terminal table and the
 * Markdown version (parity-report.md).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Diagnosis } from './diagnose.js';
import type { ErrorMetrics, MinimumTolerance } from './metrics.js';
import type { RuntimeId } from './runtimes.js';

export const REPORT_FORMAT = 'vae-parity-report';
export const REPORT_VERSION = 1;
export const REPORT_JSON = 'parity-report.json';
export const REPORT_MD = 'parity-report.md';

export interface OutputResult {
  output: string;
  metrics: ErrorMetrics;
  /** Polygraphy's "Minimum Required Tolerance": atol with rtol = 0, rtol with atol = 0. */
  minimumTolerance: MinimumTolerance;
  /** The bound maxAbs must meet (tolerances.ts). */
  tolerance: number;
  pass: boolean;
}

export type RowStatus = 'pass' | 'fail' | 'error' | 'skipped';

export interface RowResult {
  /** Manifest graph key: encoder, decoder, decoder.fp16, decoder.int8. */
  graph: string;
  file: string;
  precision: string;
  runtime: RuntimeId;
  status: RowStatus;
  /** Why it was skipped, or the error. */
  reason?: string;
  outputs: OutputResult[];
  /** Heatmap PNG of the decoder's per-pixel error, relative to the report folder. */
  heatmap?: string;
  diagnosis?: Diagnosis;
  /** When the diagnosis itself failed. */
  diagnosisError?: string;
  seconds: number;
}

export interface RuntimeInfo {
  id: RuntimeId;
  label: string;
  status: 'ran' | 'skipped';
  description?: string;
  reason?: string;
  /** --require: a skip of this runtime is a failure. */
  required: boolean;
}

export interface ParityReport {
  format: typeof REPORT_FORMAT;
  version: typeof REPORT_VERSION;
  createdAt: string;
  tool: string;
  model: { name: string; dir: string; description: string; latentSize: number };
  reference: {
    /** What every row is compared with. */
    description: string;
    /** The tfjs backend that computed the golden outputs at export (manifest provenance.backend). */
    goldenBackend: string;
    /** The backend the model was trained on (manifest training.backend). */
    trainingBackend: string;
    /** The reference as the exporter named it (graphs.*.parity.reference). */
    exporterReference: string;
  };
  tolerances: string;
  runtimes: RuntimeInfo[];
  rows: RowResult[];
  counts: Record<RowStatus, number>;
  /** One line per failure (a failing output, an error, a required runtime skipped). */
  failures: string[];
  passed: boolean;
}

const e = (v: number | null | undefined, digits = 2): string =>
  v === null || v === undefined ? '-' : v === 0 ? '0' : Number.isFinite(v) ? v.toExponential(digits) : String(v);

const COLUMNS = ['graph', 'runtime', 'output', 'max abs', 'mean abs', 'rel L2', 'max Δ 8-bit', 'px ≠ 8-bit', 'min atol', 'min rtol', 'tolerance', 'verdict'] as const;

type Line = { cells: string[] } | { graph: string; runtime: string; text: string };

/** Table lines: one per output; a skipped or failed-to-run row is one line of text. */
function lines(report: ParityReport): Line[] {
  const out: Line[] = [];
  for (const r of report.rows) {
    if (r.outputs.length === 0) {
      out.push({ graph: r.graph, runtime: r.runtime, text: `${r.status === 'skipped' ? 'skipped' : r.status.toUpperCase()}: ${r.reason ?? ''}` });
      continue;
    }
    for (const o of r.outputs) {
      const m = o.metrics;
      out.push({
        cells: [
          r.graph, r.runtime, o.output, e(m.maxAbs), e(m.meanAbs), e(m.relL2),
          m.maxAbs8bit === null ? '-' : m.maxAbs8bit.toFixed(4), m.pixelsDiffering8bit === null ? '-' : String(m.pixelsDiffering8bit),
          e(o.minimumTolerance.atol), e(o.minimumTolerance.rtol), e(o.tolerance, 0), o.pass ? 'pass' : 'FAIL',
        ],
      });
    }
  }
  return out;
}

const numeric = (i: number) => i >= 3 && i <= 10;

/** The terminal table, with a header naming the model and reference, diagnoses and a verdict line. */
export function formatTable(report: ParityReport): string {
  const table = lines(report);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...table.map((l) => ('cells' in l ? l.cells[i].length : i === 0 ? l.graph.length : i === 1 ? l.runtime.length : 0))));
  const row = (cs: readonly string[]) => cs.map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [
    `${report.model.name} (${report.model.dir})`,
    `reference: ${report.reference.description}`,
    row(COLUMNS),
    ...table.map((l) => ('cells' in l ? row(l.cells) : `${l.graph.padEnd(widths[0])}  ${l.runtime.padEnd(widths[1])}  ${l.text}`)),
  ];
  for (const r of report.rows) {
    if (r.diagnosis) out.push(`diagnosis, ${r.graph} on ${r.runtime}: ${r.diagnosis.summary}`);
    if (r.diagnosisError) out.push(`diagnosis, ${r.graph} on ${r.runtime} failed: ${r.diagnosisError}`);
  }
  const c = report.counts;
  out.push(`${report.passed ? 'PASS' : 'FAIL'}: ${c.pass} passed, ${c.fail} failed, ${c.error} errors, ${c.skipped} skipped` +
    (report.failures.length ? `\n  ${report.failures.join('\n  ')}` : ''));
  return out.join('\n');
}

const md = (s: string) => s.replace(/\|/g, '\\|');

export function formatMarkdown(report: ParityReport): string {
  const out: string[] = [];
  out.push(`# Parity report: ${report.model.name}`, '');
  out.push(`**${report.passed ? 'PASS' : 'FAIL'}**: ${report.counts.pass} passed, ${report.counts.fail} failed, ${report.counts.error} errors, ${report.counts.skipped} skipped. ` +
    `Created ${report.createdAt} by ${report.tool}.`, '');
  if (report.failures.length) out.push(...report.failures.map((f) => `- ${md(f)}`), '');
  out.push(`- Model: \`${report.model.dir}\` (${md(report.model.description)})`);
  out.push(`- Reference: ${md(report.reference.description)}`);
  out.push(`- Tolerances: ${md(report.tolerances)}`, '');
  out.push('## Runtimes', '', '| runtime | status | details |', '| --- | --- | --- |');
  for (const r of report.runtimes) out.push(`| ${r.id} | ${r.status}${r.required ? ' (required)' : ''} | ${md(r.description ?? r.reason ?? '')} |`);
  out.push('', '## Results', '', `| ${COLUMNS.join(' | ')} |`, `| ${COLUMNS.map((_, i) => (numeric(i) ? '---:' : '---')).join(' | ')} |`);
  for (const l of lines(report)) {
    out.push('cells' in l ? `| ${l.cells.map(md).join(' | ')} |` : `| ${md(l.graph)} | ${l.runtime} | - | ${new Array(8).fill('').join(' | ')} | ${md(l.text)} |`);
  }
  out.push('', 'max abs = max |runtime - golden| (Polygraphy\'s minimum atol); rel L2 = ||runtime - golden||₂ / ||golden||₂; ' +
    'max Δ 8-bit = max abs × 255; px ≠ 8-bit = values whose round(255 v) differ; min rtol = max |runtime - golden| / |golden|.');
  const maps = report.rows.filter((r) => r.heatmap);
  if (maps.length) {
    out.push('', '## Heatmaps', '', 'Per-pixel |runtime - golden| over the decoder\'s golden batch (one tile per row, linear scale from 0 to the maximum; red frame: a pixel above the tolerance).', '');
    for (const r of maps) out.push(`### ${r.graph} on ${r.runtime}`, '', `![${r.graph} on ${r.runtime}](${r.heatmap})`, '');
  }
  const diagnosed = report.rows.filter((r) => r.diagnosis || r.diagnosisError);
  if (diagnosed.length) {
    out.push('', '## Diagnosis', '');
    for (const r of diagnosed) {
      out.push(`### ${r.graph} on ${r.runtime}`, '');
      if (r.diagnosisError) {
        out.push(`Diagnosis failed: ${md(r.diagnosisError)}`, '');
        continue;
      }
      const d = r.diagnosis!;
      out.push(md(d.summary), '', `Reference: ${md(d.reference)}.`, '');
      out.push('| node | op | output | max abs (local) | bound | ratio | max abs vs float64 chain | |', '| --- | --- | --- | ---: | ---: | ---: | ---: | --- |');
      for (const n of d.nodes) {
        const mark = n === d.firstDiverging || (d.firstDiverging && n.node === d.firstDiverging.node && n.output === d.firstDiverging.output) ? '**first diverging**' : n.exceeds ? 'exceeds' : '';
        out.push(`| ${md(n.node)} | ${n.op} | ${md(n.output)} | ${n.checked ? e(n.maxAbs) : '-'} | ${n.checked ? e(n.bound) : '-'} | ${n.checked ? n.ratio.toPrecision(3) : md(n.note ?? '')} | ${e(n.chainMaxAbs)} | ${mark} |`);
      }
      if (d.audit.deviationCount > 0) {
        out.push('', `Weights changed after export (${d.audit.deviationCount}; siblings ${d.audit.siblings.join(', ')}):`, '');
        for (const w of d.audit.deviations) {
          out.push(`- \`${w.tensor}[${w.index.join(', ')}]\` = ${w.value} (${Object.entries(w.siblings).map(([k, v]) => `${k}: ${v}`).join(', ')}), read by ${w.consumers.join(', ')}`);
        }
      }
      out.push('');
    }
  }
  return out.join('\n') + '\n';
}

/** JSON with non-finite numbers as strings ("Infinity", "NaN"), which JSON cannot hold. */
export function reportJson(report: ParityReport): string {
  return JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n';
}

/** Writes parity-report.json and parity-report.md into `dir` (created); returns their paths. */
export async function writeReport(report: ParityReport, dir: string): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, REPORT_JSON);
  const markdown = join(dir, REPORT_MD);
  await writeFile(json, reportJson(report));
  await writeFile(markdown, formatMarkdown(report));
  return { json, markdown };
}
