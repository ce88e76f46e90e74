/**
 * The factory's progress protocol: one JSON object per stdout line (stderr is logs).
 *
 *   {"event":"start","experiment","stages":[...]}
 *   {"event":"stage","stage"}
 *   {"event":"epoch","stage","epoch","epochs","train_loss","val_loss","val_accuracy","lr","seconds"}
 *   {"event":"step","stage","step","steps"}
 *   {"event":"result","stage","model","params","accuracy","macro_f1"}
 *   {"event":"export","stage","onnx","inputs","torch_outputs"}
 *   {"event":"done","report"}
 *   {"event":"error","message"}
 *
 * A line that is not JSON, not an object, names no known event or lacks a field of its event is "malformed":
 * reported with the reason, never thrown, so a stray print in the factory cannot end a run. Fields beyond
 * those listed are kept (the factory may add some).
 */
import { StringDecoder } from 'node:string_decoder';

export interface StartEvent { event: 'start'; experiment: string; stages: string[] }
export interface StageEvent { event: 'stage'; stage: string }
export interface EpochEvent {
  event: 'epoch';
  stage: string;
  epoch: number;
  epochs: number;
  train_loss: number | null;
  val_loss: number | null;
  val_accuracy: number | null;
  lr: number | null;
  seconds: number | null;
}
export interface StepEvent { event: 'step'; stage: string; step: number; steps: number }
export interface ResultEvent { event: 'result'; stage: string; model: string; params: number; accuracy: number; macro_f1: number | null }
/** `inputs` and `torch_outputs`: .npy paths (relative to the run's out dir or absolute); `inputs` may map input names to paths. */
export interface ExportEvent { event: 'export'; stage: string; onnx: string; inputs: string | string[] | Record<string, string>; torch_outputs: string }
export interface DoneEvent { event: 'done'; report: unknown }
export interface ErrorEvent { event: 'error'; message: string }

export type FactoryEvent = (StartEvent | StageEvent | EpochEvent | StepEvent | ResultEvent | ExportEvent | DoneEvent | ErrorEvent) & Record<string, unknown>;

export type ParsedLine = { ok: true; event: FactoryEvent } | { ok: false; line: string; reason: string };

type FieldKind = 'string' | 'number' | 'number?' | 'string[]' | 'inputs' | 'any';

const SCHEMA: Record<FactoryEvent['event'], Record<string, FieldKind>> = {
  start: { experiment: 'string', stages: 'string[]' },
  stage: { stage: 'string' },
  epoch: { stage: 'string', epoch: 'number', epochs: 'number', train_loss: 'number?', val_loss: 'number?', val_accuracy: 'number?', lr: 'number?', seconds: 'number?' },
  step: { stage: 'string', step: 'number', steps: 'number' },
  result: { stage: 'string', model: 'string', params: 'number', accuracy: 'number', macro_f1: 'number?' },
  export: { stage: 'string', onnx: 'string', inputs: 'inputs', torch_outputs: 'string' },
  done: { report: 'any' },
  error: { message: 'string' },
};

function fits(value: unknown, kind: FieldKind): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'number?':
      // Python's json writes NaN as a bare NaN (not JSON); null or a missing field is "not measured".
      return value === undefined || value === null || (typeof value === 'number' && Number.isFinite(value));
    case 'string[]':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
    case 'inputs':
      return typeof value === 'string' || (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) ||
        (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).length > 0 && Object.values(value).every((v) => typeof v === 'string'));
    case 'any':
      return true;
  }
}

/** One stdout line -> an event, or why it is not one. */
export function parseEventLine(line: string): ParsedLine {
  const text = line.trim();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, line, reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, line, reason: 'not a JSON object' };
  const object = value as Record<string, unknown>;
  const name = object.event;
  if (typeof name !== 'string' || !(name in SCHEMA)) return { ok: false, line, reason: `unknown event ${JSON.stringify(name)}` };
  const schema = SCHEMA[name as FactoryEvent['event']];
  const bad = Object.entries(schema).filter(([field, kind]) => !fits(object[field], kind)).map(([field, kind]) => `${field} (${kind.replace('?', ' or null')})`);
  if (bad.length > 0) return { ok: false, line, reason: `${name} event with a missing or mistyped ${bad.join(', ')}` };
  const event = { ...object };
  // Normalise "not measured" to null.
  for (const [field, kind] of Object.entries(schema)) if (kind === 'number?' && event[field] === undefined) event[field] = null;
  return { ok: true, event: event as FactoryEvent };
}

/**
 * Splits a byte stream into lines (UTF-8 safe across chunk boundaries). `push` returns the complete lines;
 * `end` the last unterminated one, if any.
 */
export class LineSplitter {
  readonly #decoder = new StringDecoder('utf8');
  #rest = '';

  push(chunk: Buffer | string): string[] {
    const text = this.#rest + (typeof chunk === 'string' ? chunk : this.#decoder.write(chunk));
    const lines = text.split('\n');
    this.#rest = lines.pop() ?? '';
    return lines.map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '');
  }

  end(): string[] {
    const text = this.#rest + this.#decoder.end();
    this.#rest = '';
    return text.trim() === '' ? [] : [text.replace(/\r$/, '')];
  }
}
