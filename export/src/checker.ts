/**
 * Runs the reference ONNX validator, `onnx.checker.check_model(model, full_check=True)`
 * (which includes strict shape inference), with a Python that has the `onnx` module —
 * Debian's python3-onnx: `apt-get install python3-onnx`.
 */
import { spawnSync } from 'node:child_process';

export type CheckerResult = { ran: true; version: string } | { ran: false; reason: string };

const SCRIPT = `
import sys, onnx
for p in sys.argv[1:]:
    try:
        onnx.checker.check_model(onnx.load(p), full_check=True)
    except Exception as e:
        print("FAIL", p, str(e).replace("\\n", " "), flush=True)
        sys.exit(3)
print("OK", onnx.__version__)
`;

/** Pythons tried in order: $VAE_PYTHON, Debian's /usr/bin/python3, then python3 on PATH. */
export function pythonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...(env.VAE_PYTHON ? [env.VAE_PYTHON] : []), '/usr/bin/python3', 'python3'];
}

/** Finds a Python that can `import onnx`, or undefined. */
export function findOnnxPython(): string | undefined {
  for (const py of pythonCandidates()) {
    const r = spawnSync(py, ['-c', 'import onnx'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}

/**
 * Checks every model file. Throws naming the file if one fails; returns {ran: false} when
 * no Python with onnx is installed.
 */
export function runOnnxChecker(paths: string[]): CheckerResult {
  const python = findOnnxPython();
  if (!python) return { ran: false, reason: 'no python3 with the onnx module (apt-get install python3-onnx)' };
  const r = spawnSync(python, ['-c', SCRIPT, ...paths], { encoding: 'utf8' });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  const ok = /^OK (\S+)/m.exec(r.stdout ?? '');
  if (r.status === 0 && ok) return { ran: true, version: ok[1] };
  const fail = /^FAIL (\S+) (.*)$/m.exec(r.stdout ?? '');
  if (fail) throw new Error(`onnx.checker rejected ${fail[1]}: ${fail[2]}`);
  throw new Error(`onnx.checker did not run (${python} exited ${r.status}): ${out.slice(-500)}`);
}
