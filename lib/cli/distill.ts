/**
 * `edgeinfer distill --config x.json [--out DIR] [--quick] [--device auto|cpu|cuda|cuda:N] [--threads N] [--workers N] [--resume] [--json]`: runs a distillation experiment (see
 * lib/distill): voice features through our Engine when the experiment is 'voice', the Python factory with a
 * progress bar per stage and a per-epoch table when each stage ends, then the report (teacher, distilled and
 * hard-label students, INT8 after PTQ and after QAT, on our Engine; the size sweep). --json prints every
 * progress event and finally the report as JSON lines. Ctrl-C stops the factory's processes.
 */
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';

import { DEVICE_HELP, distill, FACTORY_THREADS, isDistillDevice, type DistillDevice, type DistillProgress } from '../distill';
import type { EpochEvent } from '../distill/protocol';
import { formatParams, KIND_HELP, reportKinds, ROW_HEADER, rowCells, type DistillReport } from '../distill/report';
import { table } from './output';

interface DistillCliOptions {
  config: string;
  out?: string;
  quick?: boolean;
  json?: boolean;
  features?: string;
  python?: string;
  device?: DistillDevice;
  threads?: number;
  workers?: number;
  resume?: boolean;
  progress: boolean;
  verbose?: boolean;
}

function threadCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < FACTORY_THREADS.min || n > FACTORY_THREADS.max) throw new InvalidArgumentError(`an integer in [${FACTORY_THREADS.min}, ${FACTORY_THREADS.max}]`);
  return n;
}

function deviceName(value: string): DistillDevice {
  if (!isDistillDevice(value)) throw new InvalidArgumentError(DEVICE_HELP);
  return value;
}

const num = (x: number | null, digits = 4) => (x === null ? '-' : Number(x.toFixed(digits)));
const fixed = (x: number | null, digits: number) => (x === null ? '-' : x.toFixed(digits));

/** The per-epoch table of one stage. */
export function epochTable(stage: string, epochs: EpochEvent[]): string {
  return `${stage}\n${table(
    ['epoch', 'train loss', 'val loss', 'val acc %', 'lr', 's'],
    epochs.map((e) => [`${e.epoch}/${e.epochs}`, fixed(e.train_loss, 4), fixed(e.val_loss, 4), fixed(e.val_accuracy === null ? null : 100 * e.val_accuracy, 2), e.lr === null ? '-' : e.lr.toExponential(2), fixed(e.seconds, 1)]),
  )}`;
}

/** The final report as text. */
export function reportText(report: DistillReport): string {
  const lines = [
    `${report.experiment}${report.quick ? ' (quick)' : ''}: measured on our Engine (native, batch 1, ${report.rows[0]?.onnxruntime ? 'ONNX Runtime alongside' : 'no ONNX Runtime baseline'})`,
    table(ROW_HEADER, report.rows.map(rowCells)),
    '',
    `quantization drop from the FP32 student: PTQ ${report.drops.ptq === null ? '-' : `${(100 * report.drops.ptq).toFixed(2)} points`}, QAT ${report.drops.qat === null ? '-' : `${(100 * report.drops.qat).toFixed(2)} points`}`,
  ];
  for (const row of report.rows.filter((r) => r.note)) lines.push(`  ${row.label}: ${row.note}`);
  const kinds = reportKinds(report.rows);
  if (kinds.length > 0) {
    const rows = report.rows.filter((r) => r.byKind);
    lines.push('', 'accuracy by kind of test example (%)', table(['model', ...kinds.map((k) => `${k} (${rows[0].byKind![k]?.count ?? 0})`)], rows.map((r) => [r.label, ...kinds.map((k) => (r.byKind![k] ? Number((100 * r.byKind![k].accuracy).toFixed(1)) : '-'))])), KIND_HELP);
  }
  if (report.sweep && report.sweep.points.length > 0) {
    lines.push('', 'student size sweep', table(['params', 'distilled %', 'hard labels %'], report.sweep.points.map((p) => [formatParams(p.params), num(100 * p.distilled, 1), num(100 * p.hard, 1)])));
  }
  if (report.sweep) lines.push(report.sweep.sentence);
  lines.push('', 'acceptance');
  for (const c of report.acceptance) lines.push(`  ${c.pass === null ? 'n/a ' : c.pass ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`);
  lines.push('', `time: ${Object.entries(report.seconds).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ')}`);
  lines.push(`files: ${Object.values(report.files).join(', ')}`);
  return `${lines.join('\n')}\n`;
}

export function registerDistill(program: Command): void {
  program
    .command('distill')
    .description('distil a teacher into a small student with the Python factory (PyTorch), then measure teacher, students, PTQ and QAT INT8 on our Engine')
    .requiredOption('-c, --config <file>', 'the experiment config (JSON)')
    .option('-o, --out <dir>', 'the run folder (default .cache/distill/runs/<experiment>)')
    .option('--quick', 'quick mode: small data, few epochs (CI)')
    .option('--features <dir>', 'voice features already made (skip making them)')
    .option('--python <path>', 'the Python to run the factory with (default: the distill venv, $EDGEINFER_PYTHON, python3)')
    .option('--device <device>', `where the factory trains: ${DEVICE_HELP} (default: the config's, else auto: CUDA when PyTorch sees a GPU)`, deviceName)
    .option('--threads <n>', "PyTorch threads in the factory (default: the config's, else 1)", threadCount)
    .option('--workers <n>', "independent training jobs side by side in CPU processes, threads / n threads each (default: the config's, else 1)", threadCount)
    .option('--resume', 'continue each stage from its last checkpoint in the run folder')
    .option('--json', 'print progress events and the report as JSON lines')
    .option('--no-progress', 'no progress bars')
    .option('--verbose', "print the factory's log (its stderr)")
    .action(async (options: DistillCliOptions) => {
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      const json = options.json === true;
      const write = (line: string) => process.stdout.write(`${line}\n`);
      const bars = options.progress && !json && process.stderr.isTTY === true;
      let bar: cliProgress.SingleBar | undefined;
      let barStage: string | undefined;
      let stageEpochs: EpochEvent[] = [];
      const endStage = () => {
        bar?.stop();
        bar = undefined;
        if (barStage !== undefined && stageEpochs.length > 0 && !json) write(`${epochTable(barStage, stageEpochs)}\n`);
        barStage = undefined;
        stageEpochs = [];
      };
      const startBar = (stage: string, total: number, format: string) => {
        endStage();
        barStage = stage;
        if (!bars) return;
        bar = new cliProgress.SingleBar({ format, stream: process.stderr, hideCursor: true, etaBuffer: 20 }, cliProgress.Presets.shades_classic);
        bar.start(total, 0, { stage, info: '' });
      };
      const onProgress = (p: DistillProgress) => {
        if (json) {
          if (p.event !== 'log' || options.verbose) write(JSON.stringify(p));
          return;
        }
        switch (p.event) {
          case 'phase':
            if (p.phase === 'voice') startBar('voice features', 1, 'voice features [{bar}] {value}/{total} utterances | {info} | {duration_formatted} (eta {eta_formatted})');
            else if (p.phase === 'evaluate' || p.phase === 'ptq' || p.phase === 'report') endStage();
            if (!bars) process.stderr.write(`[distill] ${p.phase}${p.detail ? `: ${p.detail}` : ''}\n`);
            break;
          case 'voice':
            if (bar) {
              bar.setTotal(p.totalAll);
              bar.update(p.doneAll, { info: `${p.split} ${p.done}/${p.total}` });
            } else if (p.doneAll === p.totalAll || Math.floor((10 * p.doneAll) / p.totalAll) > Math.floor((10 * (p.doneAll - 1)) / p.totalAll)) {
              // Without a terminal: a line every 10 %.
              process.stderr.write(`[distill] voice features: ${p.doneAll}/${p.totalAll} utterances (${p.split}) in ${p.elapsedSeconds.toFixed(0)} s\n`);
            }
            break;
          case 'start':
            if (!bars) process.stderr.write(`[distill] ${p.experiment}: stages ${p.stages.join(', ')}\n`);
            break;
          case 'stage':
            startBar(p.stage, 1, `${p.stage} [{bar}] {percentage}% | {info} | {duration_formatted}`);
            if (!bars) process.stderr.write(`[distill] stage ${p.stage}\n`);
            break;
          case 'step':
            if (bar && p.stage === barStage) {
              const epoch = typeof p.epoch === 'number' ? p.epoch : 1;
              const epochs = stageEpochs[0]?.epochs ?? (typeof p.epochs === 'number' ? p.epochs : 1);
              bar.setTotal(epochs * p.steps);
              bar.update((epoch - 1) * p.steps + p.step);
            }
            break;
          case 'epoch':
            if (p.stage !== barStage) startBar(p.stage, p.epochs, `${p.stage} [{bar}] {percentage}% | {info} | {duration_formatted}`);
            stageEpochs.push(p);
            if (bar) {
              bar.setTotal(p.epochs);
              bar.update(p.epoch, { info: `epoch ${p.epoch}/${p.epochs} loss ${num(p.train_loss)} val acc ${p.val_accuracy === null ? '-' : `${(100 * p.val_accuracy).toFixed(1)}%`}` });
              // Steps (when the factory sends them) count in epochs * steps; epochs alone in epochs.
              const total = bar.getTotal();
              if (total !== p.epochs) bar.update(Math.round((p.epoch / p.epochs) * total));
            } else {
              process.stderr.write(`[distill] ${p.stage} epoch ${p.epoch}/${p.epochs} train loss ${num(p.train_loss)} val acc ${p.val_accuracy === null ? '-' : (100 * p.val_accuracy).toFixed(2)}\n`);
            }
            break;
          case 'result':
            endStage();
            write(`${p.stage}: ${p.model} ${formatParams(p.params)} params, PyTorch accuracy ${(100 * p.accuracy).toFixed(2)} %, macro-F1 ${p.macro_f1 === null ? '-' : (100 * p.macro_f1).toFixed(2)}`);
            break;
          case 'export':
            if (!bars) process.stderr.write(`[distill] exported ${p.onnx}\n`);
            break;
          case 'evaluate':
            if (!bars) process.stderr.write(`[distill] measuring ${p.model} on our Engine (${p.index + 1}/${p.total})\n`);
            break;
          case 'malformed':
            process.stderr.write(`[distill] ignored a factory stdout line (${p.reason}): ${p.line.slice(0, 200)}\n`);
            break;
          case 'log':
            if (options.verbose) {
              bar?.stop();
              process.stderr.write(`${p.line}\n`);
            }
            break;
          default:
            break;
        }
      };
      try {
        const report = await distill(options.config, {
          out: options.out,
          quick: options.quick,
          features: options.features,
          python: options.python,
          device: options.device,
          threads: options.threads,
          workers: options.workers,
          resume: options.resume,
          signal: controller.signal,
          onProgress,
        });
        endStage();
        if (json) write(JSON.stringify({ event: 'report', ...report }));
        else write(reportText(report));
      } finally {
        endStage();
        process.removeListener('SIGINT', onSigint);
      }
    });
}
