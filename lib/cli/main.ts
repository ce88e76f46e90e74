/**
 * The `edgeinfer` command line: info, run, quantize, bench, serve, demo. Exit codes: 0 done, 1 an EdgeInferError (the message says
 * what to fix), 2 a usage error (unknown command or option, missing argument), 70 an internal error.
 */
import fs from 'node:fs';
import path from 'node:path';

import { Command, CommanderError } from 'commander';

import { registerBench } from './bench';
import { registerDistill } from './distill';
import { registerDemo } from './demo';
import { registerInfo } from './info';
import { describeError } from './output';
import { registerQuantize } from './quantize';
import { registerRun } from './run';
import { registerServe } from './serve';

/** The package version, from the package.json above this file (lib/cli, dist/cli, or a compiled copy deeper). */
function packageVersion(): string {
  for (let dir = __dirname, up = 0; up < 5; dir = path.dirname(dir), up++) {
    const file = path.join(dir, 'package.json');
    if (!fs.existsSync(file)) continue;
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (json.name === 'edgeinfer' && json.version) return json.version;
  }
  return 'unknown';
}

export function createProgram(): Command {
  const program = new Command('edgeinfer')
    .description('compress and run neural networks on small devices')
    .version(packageVersion())
    .showHelpAfterError('(edgeinfer <command> --help for its options)')
    .exitOverride();
  registerInfo(program);
  registerRun(program);
  registerQuantize(program);
  registerBench(program);
  registerServe(program);
  registerDistill(program);
  registerDemo(program);
  for (const command of program.commands) command.exitOverride();
  return program;
}

export async function main(argv: readonly string[] = process.argv): Promise<number> {
  try {
    await createProgram().parseAsync([...argv]);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help / --version end here too (exit code 0); usage errors were already printed by commander.
      return error.exitCode === 0 ? 0 : 2;
    }
    const { message, exitCode } = describeError(error);
    process.stderr.write(`${message}\n`);
    return exitCode;
  }
}

if (require.main === module) {
  main().then((code) => {
    process.exitCode = code;
  });
}
