/**
 * npm run bench:report [-- --from-results | --quick] [-- --seconds S] [-- --duration S] [-- --skip zoo,sweep] [-- --results DIR]
 *
 * Runs the benchmarks the report shows (scripts/bench.js --only X for gemm, layernorm, models, zoo,
 * scheduler, sweep and grpc-load; each writes bench/results/latest-X.jsonl), records the machine, then
 * renders bench/results/REPORT.md and its SVG charts in bench/results/charts/. `--from-results` (alias
 * `--quick`) runs nothing and only renders from the latest*.jsonl files there, so the report can be
 * re-rendered without re-running the benchmarks. Every chart is checked to be well-formed XML before it
 * is written. --seconds: per-case time of the benches (scripts/bench.js's); --duration: the gRPC load's length
 * (default 20 s); --results DIR (with --from-results): render another results folder. Progress goes to stderr;
 * the headline figures to stdout.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { checkWellFormedXml } from '../../lib/report/svg';
import { describeMachine, MACHINE_FILE, readMachine } from './machine';
import { renderReport } from './render';
import { loadResults, RUN_LOG, type RunLog } from './results';

/** The repository: the nearest folder above this file holding edgeinfer's package.json (bench/report here, a compiled copy deeper in the arm64 run). */
function findRoot(): string {
  for (let dir = __dirname, up = 0; up < 6; dir = path.dirname(dir), up++) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file) && (JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string }).name === 'edgeinfer') return dir;
  }
  return path.join(__dirname, '..', '..');
}
const root = findRoot();
export const REPORT_SUITES = ['gemm', 'layernorm', 'models', 'zoo', 'scheduler', 'sweep', 'grpc-load'];

interface Args {
  fromResults: boolean;
  seconds: string | undefined;
  duration: string | undefined;
  skip: string[];
  resultsDir: string;
  noBuild: boolean;
}

function parse(argv: string[]): Args {
  const value = (flag: string) => (argv.includes(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const known = new Set(['--from-results', '--quick', '--seconds', '--duration', '--skip', '--results', '--no-build', '--report']);
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) continue;
    if (!known.has(argv[i])) throw new Error(`unknown option ${argv[i]} (known: ${[...known].join(', ')})`);
  }
  const skip = (value('--skip') ?? '').split(',').filter(Boolean);
  for (const s of skip) if (!REPORT_SUITES.includes(s)) throw new Error(`--skip takes suites among ${REPORT_SUITES.join(', ')}, got ${s}`);
  const fromResults = argv.includes('--from-results') || argv.includes('--quick');
  // The suites write into bench/results (scripts/bench.js): another folder can only be rendered.
  if (value('--results') !== undefined && !fromResults) throw new Error('--results goes with --from-results (the benchmarks write bench/results)');
  return {
    fromResults,
    seconds: value('--seconds'),
    duration: value('--duration'),
    skip,
    resultsDir: path.resolve(value('--results') ?? path.join(root, 'bench', 'results')),
    noBuild: argv.includes('--no-build'),
  };
}

const log = (message: string) => process.stderr.write(`[report] ${message}\n`);

function runSuites(args: Args): void {
  const logFile = path.join(args.resultsDir, RUN_LOG);
  let runs: RunLog = {};
  try {
    runs = JSON.parse(fs.readFileSync(logFile, 'utf8')) as RunLog;
  } catch {
    runs = {};
  }
  fs.mkdirSync(args.resultsDir, { recursive: true });
  fs.writeFileSync(path.join(args.resultsDir, MACHINE_FILE), `${JSON.stringify(describeMachine(root), null, 2)}\n`);
  let built = args.noBuild;
  for (const suite of REPORT_SUITES) {
    if (args.skip.includes(suite)) {
      log(`${suite}: skipped (--skip); its latest results, if any, are rendered`);
      continue;
    }
    const started = Date.now();
    const argv = [path.join(root, 'scripts', 'bench.js'), '--only', suite, '--json', ...(built ? ['--no-build'] : []), ...(args.seconds ? ['--seconds', args.seconds] : []), ...(args.duration && suite === 'grpc-load' ? ['--duration', args.duration] : [])];
    log(`${suite}: node ${argv.map((a) => path.relative(root, a) || a).join(' ')}`);
    // stdout (the JSON lines) is not needed here: bench.js writes them to latest-<suite>.jsonl.
    const r = spawnSync(process.execPath, argv, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    built = true;
    const ok = r.status === 0;
    if (!ok) log(`${suite} failed (exit ${r.status ?? r.signal}); the report shows the results it has`);
    runs[suite] = { file: `latest-${suite}.jsonl`, finished: new Date().toISOString(), ok, seconds: Math.round((Date.now() - started) / 1000) };
    fs.writeFileSync(logFile, `${JSON.stringify(runs, null, 2)}\n`);
  }
}

export function writeReport(resultsDir: string, command: string): { reportPath: string; charts: string[]; headlines: string[] } {
  const results = loadResults(resultsDir);
  const recorded = readMachine(resultsDir);
  const machine = recorded ?? describeMachine(root);
  const report = renderReport(results, { generated: new Date(), machine, machineIsRenderer: recorded === null, command });
  const chartDir = path.join(resultsDir, 'charts');
  fs.mkdirSync(chartDir, { recursive: true });
  // Charts of an earlier report that this one no longer draws would be stale: remove them.
  for (const old of fs.readdirSync(chartDir)) if (old.endsWith('.svg') && !report.charts.has(old)) fs.rmSync(path.join(chartDir, old));
  for (const [name, svg] of report.charts) {
    checkWellFormedXml(svg);
    fs.writeFileSync(path.join(chartDir, name), svg);
  }
  const reportPath = path.join(resultsDir, 'REPORT.md');
  fs.writeFileSync(reportPath, report.markdown);
  return { reportPath, charts: [...report.charts.keys()].map((c) => path.join(chartDir, c)), headlines: report.headlines };
}

function main(): void {
  const args = parse(process.argv.slice(2));
  if (!args.fromResults) runSuites(args);
  const command = args.fromResults ? 'npm run bench:report -- --from-results' : 'npm run bench:report';
  const { reportPath, charts, headlines } = writeReport(args.resultsDir, command);
  log(`wrote ${path.relative(process.cwd(), reportPath)} and ${charts.length} charts in ${path.relative(process.cwd(), path.dirname(charts[0] ?? reportPath))}`);
  for (const h of headlines) process.stdout.write(`- ${h}\n`);
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    log(error instanceof Error ? error.message : String(error));
    process.exit(2);
  }
}
