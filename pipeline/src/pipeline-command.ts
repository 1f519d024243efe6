/**
 * `vae pipeline --config NAME`: data -> train -> export -> verify -> report as Turborepo tasks
 * (see pipeline/turbo.json). This command validates the config, works out each stage's key
 * and hands over to `turbo run vae:report`; Turborepo runs what is not cached and restores
 * the rest.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { configNames, loadConfig, stageKeys } from './config.js';
import { REPO_ROOT } from './paths.js';
import { OUT_DIR } from './stages.js';

interface PipelineArgs { config: string; force: boolean; dry: boolean }

/** The environment Turborepo hashes for each stage (declared per task in pipeline/turbo.json). */
export function pipelineEnv(configName: string): Record<string, string> {
  const config = loadConfig(configName);
  const keys = stageKeys(config);
  return {
    // A name, or a config file's absolute path: the stages load the same file.
    VAE_CONFIG: configName.endsWith('.json') ? config.path : config.name,
    VAE_KEY_DATA: keys.data, VAE_KEY_TRAIN: keys.train, VAE_KEY_EXPORT: keys.export, VAE_KEY_VERIFY: keys.verify, VAE_KEY_REPORT: keys.report,
  };
}

export const pipelineCommand: CommandModule<object, PipelineArgs> = {
  command: 'pipeline',
  describe: 'Run data -> train -> export -> verify -> report for a config, through Turborepo (cached stages are restored, not re-run)',
  builder: (y: Argv) =>
    y
      .usage(`$0 pipeline [--config NAME]\n\nConfigs are pipeline/configs/*.json: ${configNames().join(', ')}.\nResults go to pipeline/out/<stage>/; training runs live in runs/pipeline/ and resume if interrupted.`)
      .option('config', { type: 'string', default: 'paper', describe: 'Config name in pipeline/configs, or a path to a config file' })
      .option('force', { type: 'boolean', default: false, describe: 'Ignore Turborepo\'s cache and re-run every stage (an unfinished training run still resumes)' })
      .option('dry', { type: 'boolean', default: false, describe: 'Show what Turborepo would run, and each stage\'s cache status, without running' })
      .check((a) => {
        try {
          loadConfig(a.config);
        } catch (e) {
          throw new Error(`--config: ${(e as Error).message}`); // a usage error (exit 2), naming the file and the field
        }
        return true;
      }) as unknown as Argv<PipelineArgs>,
  handler: async (a) => {
    const env = pipelineEnv(a.config);
    const args = ['turbo', 'run', 'vae:report', '--filter=@vae/pipeline', '--env-mode=loose', ...(a.force ? ['--force'] : []), ...(a.dry ? ['--dry'] : [])];
    console.log(`pipeline: config ${env.VAE_CONFIG}; results in ${OUT_DIR}`);
    const started = performance.now();
    const code = await new Promise<number>((resolvePromise, reject) => {
      const child = spawn('npx', args, {
        cwd: REPO_ROOT, stdio: 'inherit', env: { ...process.env, ...env, TURBO_TELEMETRY_DISABLED: '1' },
      });
      child.on('error', reject);
      child.on('exit', (c, signal) => resolvePromise(c ?? (signal === 'SIGINT' ? 130 : 1)));
    });
    const seconds = (performance.now() - started) / 1000;
    if (code === 0 && !a.dry) console.log(`pipeline: ${env.VAE_CONFIG} done in ${seconds.toFixed(1)} s; report: ${join(OUT_DIR, 'report', 'report.md')}`);
    else if (code !== 0) console.error(`pipeline: ${env.VAE_CONFIG} failed after ${seconds.toFixed(1)} s (exit ${code}); run it again to resume`);
    process.exitCode = code;
  },
};
