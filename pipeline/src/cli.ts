#!/usr/bin/env node
/**
 * The `vae` command. Its subcommands are yargs command modules in commands/ (on the
 * libraries' public APIs), plus `vae verify` from @vae/verify; this file only collects them.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { verifyCommand } from '@vae/verify/cli';
import { trainCommand } from './commands/train.js';
import { evaluateCommand } from './commands/evaluate.js';
import { exportCommand } from './commands/export.js';
import { convertCommand } from './commands/convert.js';
import { encodeCommand, decodeCommand, sampleCommand, reconstructCommand, interpolateCommand, manifoldCommand } from './commands/runtime.js';
import { experimentsCommand } from './paper/experiments-command.js';
import { pipelineCommand } from './pipeline-command.js';

await yargs(hideBin(process.argv))
  .scriptName('vae')
  .usage('$0 <command> [options]\n\nTrain a VAE with TensorFlow.js, export it to ONNX, run it anywhere.')
  .command(trainCommand)
  .command(evaluateCommand)
  .command(exportCommand)
  .command(encodeCommand)
  .command(decodeCommand)
  .command(sampleCommand)
  .command(reconstructCommand)
  .command(interpolateCommand)
  .command(manifoldCommand)
  .command(convertCommand)
  .command(verifyCommand)
  .command(pipelineCommand)
  .command(experimentsCommand)
  .demandCommand(1, 'Name a command; see the list above.')
  .strict()
  .recommendCommands()
  .help()
  .alias('h', 'help')
  .version(false)
  .wrap(Math.min(110, process.stdout.columns || 110))
  .fail((message, error, y) => {
    if (error && !message?.startsWith('--')) {
      // A runtime failure inside a command: the message says what went wrong.
      console.error(`error: ${error.message}`);
      process.exit(1);
    }
    // A usage error (unknown flag, bad value): show the relevant help, exit 2.
    y.showHelp('error');
    console.error(`\nerror: ${message ?? error?.message}`);
    process.exit(2);
  })
  .parseAsync();
