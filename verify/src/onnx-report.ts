/**
 * The report of `vae verify` on a general ONNX model (onnx-parity-report.json, its JSON Schema
 * in verify/schema/onnx-parity-report.schema.json), the terminal table and the Markdown version.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '@vae/models/node';
import type { OnnxDiagnosis } from './onnx-diagnose.js';
import type { RowStatus, RuntimeInfo } from './report.js';
import type { RuntimeId } from './runtimes.js';
import type { ErrorStat, Summary } from './stats.js';

export const ONNX_REPORT_FORMAT = 'vae-onnx-parity-report';
export const ONNX_REPORT_VERSION = 1;
export const ONNX_REPORT_JSON = 'onnx-parity-report.json';
export const ONNX_REPORT_MD = 'onnx-parity-report.md';

/** A tolerance: one value, and per-output overrides. */
export interface Tolerance { default: number; perOutput: Record<string, number> }

export interface OnnxOutputResult {
  output: string;
  dtype: string;
  /** Shape in the first data set. */
  shape: number[];
  count: number;
  abs: Summary;
  rel: Summary;
  nonFinite: number;
  /** Elements with absdiff > atol and reldiff > rtol. */
  mismatches: number;
  atol: number;
  rtol: number;
  /** The smallest atol (rtol = 0) and rtol (atol = 0) that pass with the check's statistic. */
  minimumTolerance: { atol: number; rtol: number };
  pass: boolean;
}

export interface OnnxRowResult {
  runtime: RuntimeId;
  status: RowStatus;
  reason?: string;
  outputs: OnnxOutputResult[];
  diagnosis?: OnnxDiagnosis;
  diagnosisError?: string;
  seconds: number;
}

export interface OnnxParityReport {
  format: typeof ONNX_REPORT_FORMAT;
  version: typeof ONNX_REPORT_VERSION;
  createdAt: string;
  tool: string;
  model: { path: string; name: string; bytes: number; sha256: string; producer: string; opsets: { domain: string; version: number }[]; nodes: number; ops: Record<string, number> };
  data: {
    source: 'golden' | 'generated';
    /** Where the sets are (for generated data: where they were saved). */
    dir: string;
    sets: number;
    inputs: { name: string; dtype: string; shape: number[] }[];
    seed?: number;
    dims?: Record<string, number>;
    /** Repeats this run on the same data. */
    repeat: string;
  };
  reference: { kind: 'golden' | 'runtime'; description: string; runtime?: RuntimeId; model?: string };
  check: { stat: ErrorStat; quantile: number; atol: Tolerance; rtol: Tolerance };
  runtimes: RuntimeInfo[];
  rows: OnnxRowResult[];
  counts: Record<RowStatus, number>;
  failures: string[];
  passed: boolean;
}

const e = (v: number, digits = 2): string => (v === 0 ? '0' : Number.isFinite(v) ? v.toExponential(digits) : String(v));
const at = (s: Summary) => (s.argMax ? `${s.argMax.set}:[${s.argMax.index.join(',')}]` : '-');

const COLUMNS = ['runtime', 'output', 'max abs', 'at (set:[index])', 'mean abs', 'median abs', 'q abs', 'max rel', 'mean rel', 'median rel', 'q rel', 'min atol', 'min rtol', 'atol', 'rtol', 'verdict'] as const;
const numeric = (i: number) => i >= 2 && i <= 14 && i !== 3;

function cells(report: OnnxParityReport): (string[] | { runtime: string; text: string })[] {
  const out: (string[] | { runtime: string; text: string })[] = [];
  for (const r of report.rows) {
    if (r.outputs.length === 0) {
      out.push({ runtime: r.runtime, text: `${r.status === 'skipped' ? 'skipped' : r.status.toUpperCase()}: ${r.reason ?? ''}` });
      continue;
    }
    for (const o of r.outputs) {
      out.push([
        r.runtime, o.output, e(o.abs.max), at(o.abs), e(o.abs.mean), e(o.abs.median), e(o.abs.quantile), e(o.rel.max), e(o.rel.mean), e(o.rel.median), e(o.rel.quantile),
        e(o.minimumTolerance.atol), e(o.minimumTolerance.rtol), e(o.atol, 0), e(o.rtol, 0), o.pass ? 'pass' : 'FAIL',
      ]);
    }
  }
  return out;
}

function header(report: OnnxParityReport): string[] {
  const c = report.check;
  return [
    `${report.model.name} (${report.model.path}, ${report.model.nodes} nodes, opset ${report.model.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')})`,
    `data: ${report.data.sets} ${report.data.source} set(s) in ${report.data.dir}; reference: ${report.reference.description}`,
    `check: ${c.stat}${c.stat === 'quantile' ? ` (q = ${c.quantile})` : ''}, atol ${e(c.atol.default, 0)}, rtol ${e(c.rtol.default, 0)}` +
      Object.entries(c.atol.perOutput).map(([k, v]) => `, atol ${k}=${e(v, 0)}`).join('') + Object.entries(c.rtol.perOutput).map(([k, v]) => `, rtol ${k}=${e(v, 0)}`).join(''),
  ];
}

function verdict(report: OnnxParityReport): string {
  const c = report.counts;
  return `${report.passed ? 'PASS' : 'FAIL'}: ${c.pass} passed, ${c.fail} failed, ${c.error} errors, ${c.skipped} skipped` + (report.failures.length ? `\n  ${report.failures.join('\n  ')}` : '');
}

export function formatOnnxTable(report: OnnxParityReport): string {
  const rows = cells(report);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...rows.map((r) => (Array.isArray(r) ? r[i].length : i === 0 ? r.runtime.length : 0))));
  const line = (cs: readonly string[]) => cs.map((c, i) => (numeric(i) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [...header(report), line(COLUMNS), ...rows.map((r) => (Array.isArray(r) ? line(r) : `${r.runtime.padEnd(widths[0])}  ${r.text}`))];
  for (const r of report.rows) {
    if (r.diagnosis) out.push(`diagnosis, ${r.runtime}: ${r.diagnosis.summary}`);
    if (r.diagnosisError) out.push(`diagnosis, ${r.runtime} failed: ${r.diagnosisError}`);
  }
  out.push(verdict(report));
  return out.join('\n');
}

const md = (s: string) => s.replace(/\|/g, '\\|');

export function formatOnnxMarkdown(report: OnnxParityReport): string {
  const out = [`# Parity report: ${report.model.name}`, '', `**${verdict(report).split('\n')[0]}**. Created ${report.createdAt} by ${report.tool}.`, ''];
  if (report.failures.length) out.push(...report.failures.map((f) => `- ${md(f)}`), '');
  out.push(...header(report).map((h) => `- ${md(h)}`), `- Repeat: \`${report.data.repeat}\``, '');
  out.push('## Runtimes', '', '| runtime | status | details |', '| --- | --- | --- |');
  for (const r of report.runtimes) out.push(`| ${r.id} | ${r.status}${r.required ? ' (required)' : ''} | ${md(r.description ?? r.reason ?? '')} |`);
  out.push('', '## Results', '', `| ${COLUMNS.join(' | ')} |`, `| ${COLUMNS.map((_, i) => (numeric(i) ? '---:' : '---')).join(' | ')} |`);
  for (const r of cells(report)) out.push(Array.isArray(r) ? `| ${r.map(md).join(' | ')} |` : `| ${r.runtime} | ${md(r.text)} |${' |'.repeat(COLUMNS.length - 2)}`);
  out.push('', `abs = |runtime - reference|, rel = abs / |reference|; q = the ${report.check.quantile} quantile; min atol / min rtol: the smallest tolerance that passes with the other at 0.`);
  for (const r of report.rows.filter((x) => x.diagnosis || x.diagnosisError)) {
    out.push('', `## Diagnosis: ${r.runtime}`, '');
    if (!r.diagnosis) {
      out.push(`Diagnosis failed: ${md(r.diagnosisError ?? '')}`);
      continue;
    }
    const d = r.diagnosis;
    out.push(md(d.summary), '', `Data set ${d.set}; ${d.comparedTensors} intermediate tensors compared with ${md(d.reference)}; ${d.inlinedIfs} If nodes inlined; threshold ${e(d.threshold)}.`, '');
    out.push('| node | op | error | inputs\' error | amplification | |', '| --- | --- | ---: | ---: | ---: | --- |');
    for (const n of d.nodes) out.push(`| ${md(n.node)} | ${n.op} | ${e(n.error)} | ${e(n.inputError)} | ${e(n.amplification)} | ${n === d.firstDiverging || n.node === d.firstDiverging?.node ? '**first diverging**' : ''} |`);
  }
  return out.join('\n') + '\n';
}

/** JSON with non-finite numbers as strings ("Infinity", "NaN"), which JSON cannot hold. */
export function onnxReportJson(report: OnnxParityReport): string {
  return JSON.stringify(report, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v), 2) + '\n';
}

export async function writeOnnxReport(report: OnnxParityReport, dir: string): Promise<{ json: string; markdown: string }> {
  const json = join(dir, ONNX_REPORT_JSON);
  const markdown = join(dir, ONNX_REPORT_MD);
  await writeFileAtomic(json, onnxReportJson(report));
  await writeFileAtomic(markdown, formatOnnxMarkdown(report));
  return { json, markdown };
}
