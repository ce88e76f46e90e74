/**
 * `edgeinfer quantize in.onnx -o out.onnx --calib <.npy file or folder>`: calibrate on the samples, write a QDQ
 * INT8 (or mixed precision) model, validate it by loading it, print the per-layer table and sizes; --report
 * writes the whole report as JSON, --json prints it.
 */
import fs from 'node:fs';

import cliProgress from 'cli-progress';
import type { Command } from 'commander';

import { CALIBRATION_METHODS, type CalibrationMethod } from '../calibrator';
import { EdgeInferError } from '../errors';
import { readModel } from '../onnx/reader';
import { analyzeSensitivity, autoMixedPrecision, formatSensitivityTable, quantizeModel, type QuantizeModelOptions } from '../quantization';
import type { Tensor } from '../tensor';
import { wakeWordCalibrationFeeds, wavFiles } from '../wakeword/calibration';
import type { PrecisionRule } from '../quantization/precision-rules';
import type { QuantizedType } from '../quantize';
import { countNpySamples, npyCalibrationFeeds, npyFiles } from './feeds';
import { readModelFile } from './info';
import { formatBytes, table } from './output';

interface QuantizeCliOptions {
  output: string;
  calib?: string[];
  calibWav?: string;
  frontend?: string;
  embedding?: string;
  method: string;
  perChannel: boolean;
  activationType: string;
  keepFp32?: string[];
  fp16?: string[];
  opTypes?: string[];
  mixedPrecision?: string;
  report?: string;
  json?: boolean;
  progress: boolean;
  sensitivity?: boolean;
  autoBudget?: string;
  fallback: string;
}

function invalid(message: string): EdgeInferError {
  return new EdgeInferError('EDGEINFER_INVALID_ARGUMENT', message);
}

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description('calibrate on sample inputs and write a QDQ INT8 (or mixed precision) ONNX model')
    .argument('<model>', 'FP32 ONNX model file')
    .requiredOption('-o, --output <file>', 'where to write the quantized model')
    .option('--calib <paths...>', '.npy files or folders of them: samples of the (single) input, batch along axis 0')
    .option('--calib-wav <dir>', 'WAV clips (16 kHz) through the wake-word front end: for openWakeWord embedding / head models')
    .option('--frontend <model>', 'with --calib-wav: the melspectrogram model')
    .option('--embedding <model>', 'with --calib-wav, for a head: the embedding model')
    .option('--method <method>', `activation range method: ${CALIBRATION_METHODS.join(', ')}`, 'mse')
    .option('--no-per-channel', 'one weight scale per tensor instead of per output channel')
    .option('--activation-type <type>', 'uint8 or int8', 'uint8')
    .option('--keep-fp32 <nodes...>', 'node names left FP32')
    .option('--fp16 <patterns...>', 'node name patterns (regular expressions) stored FP16')
    .option('--op-types <types...>', 'op types to quantize (default Conv ConvTranspose MatMul Gemm)')
    .option('--mixed-precision <preset>', "a precision preset: 'seed' (attention INT8, feed-forward FP16, first / last FP32)")
    .option('--sensitivity', 'first print each layer quantized alone: its output SQNR and the end-to-end 1 - cosine')
    .option('--auto-budget <metric>', 'automatic mixed precision: the worst layers fall back until 1 - cosine of the outputs <= metric')
    .option('--fallback <precision>', 'precision of layers taken out of INT8 by --auto-budget: fp32 or fp16', 'fp32')
    .option('--report <file>', 'write the full report as JSON')
    .option('--json', 'print the report as one JSON object instead of the table')
    .option('--no-progress', 'no progress bar')
    .action(async (file: string, options: QuantizeCliOptions) => {
      if (!(CALIBRATION_METHODS as readonly string[]).includes(options.method)) throw invalid(`--method must be one of ${CALIBRATION_METHODS.join(', ')}, got '${options.method}'`);
      if (options.activationType !== 'uint8' && options.activationType !== 'int8') throw invalid(`--activation-type must be uint8 or int8, got '${options.activationType}'`);
      const budget = options.autoBudget === undefined ? undefined : Number(options.autoBudget);
      if (budget !== undefined && !(budget >= 0 && Number.isFinite(budget))) throw invalid(`--auto-budget must be a number >= 0, got '${options.autoBudget}'`);
      if (options.fallback !== 'fp32' && options.fallback !== 'fp16') throw invalid(`--fallback must be fp32 or fp16, got '${options.fallback}'`);
      if ((budget !== undefined || options.sensitivity) && !options.calib && !options.calibWav) throw invalid('--auto-budget and --sensitivity need --calib or --calib-wav samples');
      if (options.calib && options.calibWav) throw invalid('give --calib or --calib-wav, not both');
      if (options.calibWav && !options.frontend) throw invalid('--calib-wav needs --frontend <melspectrogram.onnx>');
      const bytes = readModelFile(file);
      const model = readModel(bytes);
      const inputs = model.graph.inputs.filter((i) => !model.graph.initializers.has(i.name));
      const quantizeOptions: QuantizeModelOptions = {
        method: options.method as CalibrationMethod,
        perChannel: options.perChannel,
        activationType: options.activationType as QuantizedType,
        nodesToExclude: options.keepFp32,
        opTypesToQuantize: options.opTypes as QuantizeModelOptions['opTypesToQuantize'],
        mixedPrecision: options.mixedPrecision as QuantizeModelOptions['mixedPrecision'],
        precision: options.fp16?.map((pattern): PrecisionRule => ({ pattern: new RegExp(pattern), precision: 'fp16' })),
      };
      let bar: cliProgress.SingleBar | undefined;
      let samples: (() => AsyncGenerator<Record<string, Tensor>>) | undefined;
      if (options.calib) {
        if (inputs.length !== 1) throw invalid(`--calib reads samples of a one-input model; this one has ${inputs.length} (${inputs.map((i) => i.name).join(', ')}): use quantizeModel() from the library`);
        const input = { name: inputs[0].name, type: (inputs[0].dtype ?? 'float32') as 'float32', dims: [...(inputs[0].shape ?? [])] };
        const files = options.calib.flatMap(npyFiles);
        const total = countNpySamples(files, input.dims.length);
        samples = () => npyCalibrationFeeds(files, input);
        quantizeOptions.data = samples();
        if (options.progress && !options.json) {
          bar = new cliProgress.SingleBar({ format: 'calibrating [{bar}] {value}/{total} samples | {tensors} tensors | {duration_formatted}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
          bar.start(total ?? 0, 0, { tensors: 0 });
          quantizeOptions.onProgress = ({ batch, tensors }) => bar!.update(batch, { tensors });
        }
      } else if (options.calibWav) {
        // The model's input decides the stage: [N, 76, 32, 1] mel windows (embedding) or [N, 16, 96] embeddings (a head).
        if (inputs.length !== 1) throw invalid(`--calib-wav calibrates a one-input wake-word model; this one has ${inputs.length}`);
        const dims = inputs[0].shape ?? [];
        const stage = dims.length === 4 && dims[1] === 76 && dims[2] === 32 ? 'embedding' : dims.length === 3 && dims[2] === 96 ? 'head' : undefined;
        if (!stage) throw invalid(`--calib-wav: input [${dims.join(', ')}] is neither openWakeWord's embedding input [N, 76, 32, 1] nor a head's [N, 16, 96]`);
        if (stage === 'head' && !options.embedding) throw invalid('--calib-wav for a head needs --embedding <embedding_model.onnx>');
        const clips = wavFiles(options.calibWav);
        const wavOptions = { melspectrogram: options.frontend!, embedding: options.embedding, stage, inputName: inputs[0].name } as const;
        samples = () => wakeWordCalibrationFeeds(clips, wavOptions);
        quantizeOptions.data = samples();
        if (options.progress && !options.json) {
          bar = new cliProgress.SingleBar({ format: 'calibrating [{bar}] {value} windows | {tensors} tensors | {duration_formatted}', stream: process.stderr, hideCursor: true }, cliProgress.Presets.shades_classic);
          bar.start(0, 0, { tensors: 0 });
          quantizeOptions.onProgress = ({ batch, tensors }) => bar!.update(batch, { tensors });
        }
      }
      const analysisOptions = { ...quantizeOptions, onProgress: undefined, precision: undefined, mixedPrecision: undefined };
      if (options.sensitivity && !options.json) {
        const sensitivity = await analyzeSensitivity(bytes, { ...analysisOptions, data: samples!() });
        process.stdout.write(`${formatSensitivityTable(sensitivity)}\nall layers INT8: 1 - cosine ${sensitivity.allInt8Metric.toExponential(2)}\n\n`);
      }
      let result;
      let auto: string | undefined;
      try {
        if (budget !== undefined) {
          const mixed = await autoMixedPrecision(bytes, { ...analysisOptions, data: samples!(), budget, fallback: options.fallback as 'fp32' | 'fp16' });
          fs.writeFileSync(options.output, mixed.bytes);
          result = { bytes: mixed.bytes, report: mixed.report };
          auto = `${mixed.table}\n${mixed.summary}`;
        } else {
          result = await quantizeModel(bytes, options.output, quantizeOptions);
        }
      } finally {
        bar?.stop();
      }
      const report = result.report;
      if (options.report) fs.writeFileSync(options.report, `${JSON.stringify(report, null, 2)}\n`);
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
        return;
      }
      const rows = report.nodes.map((n) => [
        n.name, n.opType, n.precision, formatBytes(n.weightBytesBefore), formatBytes(n.weightBytesAfter),
        n.activations.map((a) => `${a.scale.toPrecision(3)}/${a.zeroPoint}`).join(' ') || '-', n.reason,
      ]);
      const validation = report.validation
        .map((v) => (v.skipped ? `${v.backend} skipped (${v.skipped})` : `${v.backend}: ${Object.entries(v.outputs).map(([name, o]) => `${name} cosine to FP32 ${o.cosine.toFixed(5)}`).join(', ')}`))
        .join('; ');
      process.stdout.write([
        ...(auto ? [auto, ''] : []),
        table(['node', 'op', 'precision', 'weights', 'quantized', 'act scale/zp', 'why'], rows),
        '',
        `${options.output}: ${formatBytes(report.sizeBefore)} -> ${formatBytes(report.sizeAfter)} (${(report.sizeAfter / report.sizeBefore).toFixed(3)}x); ` +
          `${Object.entries(report.counts).map(([p, n]) => `${p} ${n}`).join(', ')}; method ${report.method}, ${report.activationType} activations, ` +
          `${report.perChannel ? 'per-channel' : 'per-tensor'} weights; calibrated on ${report.calibration.batches} samples in ${(report.calibration.milliseconds / 1000).toFixed(2)} s`,
        `validation: ${validation || 'none'}`,
      ].join('\n') + '\n');
    });
}
