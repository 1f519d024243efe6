/**
 * How the parallel trainer splits work into contiguous shards: the batch's rows among the
 * workers (parallel.ts), and the parameter vector among the workers' Adam updates
 * (adam-simd.ts). Its own module so that neither of those two imports the other for it.
 */

/** Row ranges [start, end) of `rows` split into `parts` contiguous shards, sizes differing by at most 1. */
export function shardRanges(rows: number, parts: number): [number, number][] {
  const base = Math.floor(rows / parts), extra = rows % parts;
  const ranges: [number, number][] = [];
  for (let k = 0, start = 0; k < parts; k++) {
    const end = start + base + (k < extra ? 1 : 0);
    ranges.push([start, end]);
    start = end;
  }
  return ranges;
}
