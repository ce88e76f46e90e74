/**
 * DegradationPolicy: switches a ModelPool's serving variant on CPU temperature, p99 latency over an SLO or
 * memory pressure. Rules are listed most severe first; each has an enter and a recover threshold
 * (hysteresis), the first active rule picks the variant, none active -> the pool's default variant. A move to
 * a less severe state waits minDwellMs after the last change, so readings oscillating around a threshold do
 * not flap the pool. Switching goes through pool.use(), which never drops a request. The seed device's rule:
 *
 *   new DegradationPolicy(pool, { rules: [{ when: { temperatureAbove: 85, recoverBelow: 80 }, use: 'int8' }] });
 */
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { EdgeInferError } from './errors';
import type { ModelPool } from './model-pool';
import { checkInteger, checkOptions, invalid } from './validate';

type MaybePromise<T> = T | Promise<T>;
/** A reading source: a number, or undefined / a throw / a rejection when there is no reading now. */
export type ReadingSource = () => MaybePromise<number | undefined>;

export type DegradationCondition =
  /** CPU temperature in °C above this; recovers below recoverBelow (default: 5 °C lower). */
  | { temperatureAbove: number; recoverBelow?: number }
  /** p99 latency (ms) of the serving variant, over its calls since it began serving, above this; recovers below recoverBelow (default 0.8 ×). */
  | { p99AboveMs: number; recoverBelow?: number }
  /** Free memory as a fraction of total (0..1) below this; recovers above recoverAbove (default + 0.05). */
  | { freeMemoryBelow: number; recoverAbove?: number }
  /** Process resident set size in bytes above this; recovers below recoverBelow (default 0.9 ×). */
  | { rssAboveBytes: number; recoverBelow?: number };

export interface DegradationRule {
  when: DegradationCondition;
  /** The variant to serve while this rule is the most severe active one. */
  use: string;
  /** For events and info(). Default: the condition, e.g. 'temperatureAbove 85'. */
  name?: string;
}

export interface DegradationPolicyOptions {
  /** Most severe first: the first active rule wins; none active -> the pool's default variant. */
  rules: DegradationRule[];
  /** Sampling period; the timer is unref'ed. 0: no timer, evaluate() by hand. Default 1000. */
  intervalMs?: number;
  /** A move to a less severe state (recovery) waits this long after the last change; moves to a more severe one do not wait. Default 5000. */
  minDwellMs?: number;
  /** p99 rules: fewer samples than this since the variant began serving is no reading (the rule keeps its state). Default 20. */
  latencyMinSamples?: number;
  /** °C. Default: the max of <thermalDir>/thermal_zone*\/temp (millidegrees); no such files -> unavailable (the rule never fires). */
  temperature?: ReadingSource;
  /** Default '/sys/class/thermal'. */
  thermalDir?: string;
  /** Free fraction of memory, 0..1. Default os.freemem() / os.totalmem(). */
  freeMemory?: ReadingSource;
  /** Bytes. Default process.memoryUsage.rss(). */
  rss?: ReadingSource;
  /** ms. Default: the pool's recent-latency window of the serving variant since it began serving (pool.recentLatency). */
  p99Ms?: ReadingSource;
  /** Clock for minDwellMs (ms). Default performance.now. */
  now?: () => number;
}

export interface DegradationReadings {
  temperature?: number;
  freeMemory?: number;
  rss?: number;
  p99Ms?: number;
}

export interface DegradationEvent {
  from: string;
  to: string;
  /** The rule now in force (degrade), or the one left (recover). */
  rule: string;
  /** Rules active after this evaluation, most severe first. */
  active: string[];
  reason: string;
  readings: DegradationReadings;
}

export interface DegradationDecision {
  /** The variant the policy wants served (after dwell). */
  variant: string;
  /** The rule in force, or undefined for the default variant. */
  rule?: string;
  /** The pool switched during this evaluation. */
  switched: boolean;
  /** A recovery was due but held back by minDwellMs. */
  held: boolean;
  readings: DegradationReadings;
}

type Kind = 'temperature' | 'freeMemory' | 'rss' | 'p99Ms';

interface Rule {
  name: string;
  use: string;
  kind: Kind;
  /** 'above': enter when reading > enter, leave when < leave; 'below': enter when < enter, leave when > leave. */
  direction: 'above' | 'below';
  enter: number;
  leave: number;
  active: boolean;
}

interface Source {
  read: ReadingSource;
  origin: 'default' | 'injected';
  available: boolean;
  detail: string;
  last?: number;
  error?: string;
}

const conditionKeys: Record<string, { kind: Kind; direction: 'above' | 'below'; unit: string; defaultLeave: (enter: number) => number }> = {
  temperatureAbove: { kind: 'temperature', direction: 'above', unit: '°C', defaultLeave: (t) => t - 5 },
  p99AboveMs: { kind: 'p99Ms', direction: 'above', unit: 'ms', defaultLeave: (ms) => ms * 0.8 },
  freeMemoryBelow: { kind: 'freeMemory', direction: 'below', unit: 'of memory free', defaultLeave: (f) => Math.min(1, f + 0.05) },
  rssAboveBytes: { kind: 'rss', direction: 'above', unit: 'bytes', defaultLeave: (b) => b * 0.9 },
};

const readingLabels: Record<Kind, string> = { temperature: 'temperature', freeMemory: 'free memory', rss: 'RSS', p99Ms: 'p99' };

/** Policies running, by pool: two would fight over the serving variant. */
const running = new WeakMap<ModelPool, DegradationPolicy>();

function finite(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(`${name} must be a finite number, got ${String(value)}`, { argument: name, got: value });
  return value;
}

function checkRule(value: unknown, index: number, pool: ModelPool): Rule {
  const at = `rules[${index}]`;
  const rule = checkOptions(value, at);
  for (const key of Object.keys(rule)) if (!['when', 'use', 'name'].includes(key)) throw invalid(`${at} has an unknown key '${key}' (when, use, name)`, { argument: at, key });
  if (typeof rule.use !== 'string' || !pool.variants.includes(rule.use)) {
    throw invalid(`${at}.use must name a variant of the pool (${pool.variants.map((n) => `'${n}'`).join(', ')}), got ${String(rule.use)}`, { argument: `${at}.use`, got: rule.use });
  }
  if (rule.name !== undefined && (typeof rule.name !== 'string' || rule.name === '')) throw invalid(`${at}.name must be a non-empty string`, { argument: `${at}.name` });
  const when = checkOptions(rule.when, `${at}.when`);
  const triggers = Object.keys(when).filter((key) => key in conditionKeys);
  const unknown = Object.keys(when).filter((key) => !(key in conditionKeys) && key !== 'recoverBelow' && key !== 'recoverAbove');
  if (unknown.length > 0) throw invalid(`${at}.when has unknown keys ${unknown.join(', ')} (one of ${Object.keys(conditionKeys).join(', ')}, with recoverBelow / recoverAbove)`, { argument: `${at}.when`, keys: unknown });
  if (triggers.length !== 1) {
    throw invalid(`${at}.when must have exactly one of ${Object.keys(conditionKeys).join(', ')} (got ${triggers.length}); list several rules to combine conditions`, { argument: `${at}.when` });
  }
  const key = triggers[0];
  const spec = conditionKeys[key];
  const enter = finite(when[key], `${at}.when.${key}`);
  if (spec.kind === 'freeMemory' && !(enter > 0 && enter < 1)) throw invalid(`${at}.when.freeMemoryBelow is a fraction in (0, 1), got ${enter}`, { argument: `${at}.when.freeMemoryBelow`, got: enter });
  if ((spec.kind === 'p99Ms' || spec.kind === 'rss') && enter <= 0) throw invalid(`${at}.when.${key} must be > 0, got ${enter}`, { argument: `${at}.when.${key}`, got: enter });
  const recoverKey = spec.direction === 'above' ? 'recoverBelow' : 'recoverAbove';
  const wrongKey = spec.direction === 'above' ? 'recoverAbove' : 'recoverBelow';
  if (wrongKey in when) throw invalid(`${at}.when.${key} recovers with ${recoverKey}, not ${wrongKey}`, { argument: `${at}.when.${wrongKey}` });
  const leave = when[recoverKey] === undefined ? spec.defaultLeave(enter) : finite(when[recoverKey], `${at}.when.${recoverKey}`);
  if (spec.direction === 'above' ? !(leave < enter) : !(leave > enter)) {
    throw invalid(`${at}.when.${recoverKey} (${leave}) must be ${spec.direction === 'above' ? 'below' : 'above'} ${key} (${enter}): that gap is the hysteresis`, {
      argument: `${at}.when.${recoverKey}`,
      got: leave,
    });
  }
  return { name: (rule.name as string | undefined) ?? `${key} ${enter}`, use: rule.use, kind: spec.kind, direction: spec.direction, enter, leave, active: false };
}

function checkSource(value: unknown, name: string): ReadingSource | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalid(`${name} must be a function returning a number (or a Promise of one)`, { argument: name });
  return value as ReadingSource;
}

/** The default temperature source: the hottest of the thermal zones (sysfs reports millidegrees). */
function thermalSource(dir: string): Source {
  let files: string[] = [];
  try {
    files = fs
      .readdirSync(dir)
      .filter((entry) => /^thermal_zone\d+$/.test(entry))
      .map((entry) => path.join(dir, entry, 'temp'))
      .filter((file) => fs.existsSync(file));
  } catch {
    files = [];
  }
  if (files.length === 0) {
    return { read: () => undefined, origin: 'default', available: false, detail: `unavailable: no ${path.join(dir, 'thermal_zone*', 'temp')}` };
  }
  const read = async () => {
    const values = await Promise.all(
      files.map(async (file) => {
        try {
          const value = Number.parseInt(await fs.promises.readFile(file, 'utf8'), 10);
          return Number.isFinite(value) ? value / 1000 : undefined;
        } catch {
          return undefined; // a zone that cannot be read now (some drivers fail while suspended)
        }
      }),
    );
    const read = values.filter((value): value is number => value !== undefined);
    return read.length === 0 ? undefined : Math.max(...read);
  };
  return { read, origin: 'default', available: true, detail: `max of ${files.length} thermal zone${files.length === 1 ? '' : 's'} in ${dir}` };
}

export interface DegradationPolicy {
  /** 'degrade': a more severe rule took over. 'recover': back to a less severe rule or the default variant. */
  on(event: 'degrade' | 'recover', listener: (event: DegradationEvent) => void): this;
  once(event: 'degrade' | 'recover', listener: (event: DegradationEvent) => void): this;
  off(event: 'degrade' | 'recover', listener: (event: DegradationEvent) => void): this;
  emit(event: 'degrade' | 'recover', payload: DegradationEvent): boolean;
}

export class DegradationPolicy extends EventEmitter {
  readonly #pool: ModelPool;
  readonly #rules: Rule[];
  readonly #sources: Partial<Record<Kind, Source>> = {};
  readonly #intervalMs: number;
  readonly #minDwellMs: number;
  readonly #latencyMinSamples: number;
  readonly #now: () => number;
  /** Index of the rule in force; rules.length: none (the default variant). */
  #level: number;
  #changedAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<unknown> | undefined;
  #chain: Promise<unknown> = Promise.resolve();
  #stopped = false;
  #evaluations = 0;
  #last: DegradationReadings = {};
  readonly #onDispose = () => this.stop();

  constructor(pool: ModelPool, options: DegradationPolicyOptions) {
    super();
    if (pool === null || typeof pool !== 'object' || typeof (pool as ModelPool).use !== 'function' || !Array.isArray((pool as ModelPool).variants)) {
      throw invalid('pool must be a ModelPool', { argument: 'pool' });
    }
    if (pool.disposed) throw new EdgeInferError('EDGEINFER_DISPOSED', 'the model pool was disposed');
    const o = checkOptions(options, 'options');
    if (!Array.isArray(o.rules) || o.rules.length === 0) throw invalid('rules must be a non-empty array of { when, use }', { argument: 'rules' });
    this.#pool = pool;
    this.#rules = o.rules.map((rule, i) => checkRule(rule, i, pool));
    const names = new Set<string>();
    for (const rule of this.#rules) {
      if (names.has(rule.name)) throw invalid(`two rules are named '${rule.name}'`, { argument: 'rules', name: rule.name });
      names.add(rule.name);
    }
    this.#intervalMs = checkInteger(o.intervalMs ?? 1000, 'intervalMs', 0, 2 ** 31);
    this.#minDwellMs = checkInteger(o.minDwellMs ?? 5000, 'minDwellMs', 0, 2 ** 31);
    this.#latencyMinSamples = checkInteger(o.latencyMinSamples ?? 20, 'latencyMinSamples', 1, 1 << 20);
    const clock = o.now === undefined ? () => performance.now() : checkSource(o.now, 'now');
    this.#now = clock as () => number;
    if (o.thermalDir !== undefined && (typeof o.thermalDir !== 'string' || o.thermalDir === '')) throw invalid('thermalDir must be a folder path', { argument: 'thermalDir' });

    const injected = (read: ReadingSource): Source => ({ read, origin: 'injected', available: true, detail: 'injected' });
    const temperature = checkSource(o.temperature, 'temperature');
    const freeMemory = checkSource(o.freeMemory, 'freeMemory');
    const rss = checkSource(o.rss, 'rss');
    const p99 = checkSource(o.p99Ms, 'p99Ms');
    const used = new Set(this.#rules.map((rule) => rule.kind));
    if (used.has('temperature')) this.#sources.temperature = temperature ? injected(temperature) : thermalSource((o.thermalDir as string | undefined) ?? '/sys/class/thermal');
    if (used.has('freeMemory')) {
      this.#sources.freeMemory = freeMemory
        ? injected(freeMemory)
        : { read: () => os.freemem() / os.totalmem(), origin: 'default', available: true, detail: 'os.freemem() / os.totalmem()' };
    }
    if (used.has('rss')) this.#sources.rss = rss ? injected(rss) : { read: () => process.memoryUsage.rss(), origin: 'default', available: true, detail: 'process.memoryUsage.rss()' };
    if (used.has('p99Ms')) {
      this.#sources.p99Ms = p99
        ? injected(p99)
        : {
            read: () => {
              const summary = this.#pool.recentLatency(undefined, { since: this.#pool.servingSince });
              return summary.count < this.#latencyMinSamples ? undefined : summary.p99 / 1000;
            },
            origin: 'default',
            available: true,
            detail: `p99 of the serving variant's calls since it began serving (pool.recentLatency; at least ${this.#latencyMinSamples} samples)`,
          };
    }

    const holder = running.get(pool);
    if (holder !== undefined) throw invalid('the pool already has a running DegradationPolicy: stop() it first', { argument: 'pool' });
    running.set(pool, this);
    pool.once('dispose', this.#onDispose);
    this.#level = this.#rules.length;
    if (this.#intervalMs > 0) {
      this.#timer = setInterval(() => {
        if (this.#tick !== undefined) return; // the previous sample is still being read
        this.#tick = this.evaluate()
          .catch(() => undefined)
          .finally(() => {
            this.#tick = undefined;
          });
      }, this.#intervalMs);
      this.#timer.unref();
    }
  }

  /**
   * Samples the sources the rules use, updates each rule's state (enter / recover thresholds), and switches the
   * pool when the rule in force changed (a recovery waits minDwellMs after the last change). Evaluations run
   * one at a time, in call order.
   */
  evaluate(): Promise<DegradationDecision> {
    const next = this.#chain.then(() => this.#evaluate());
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #evaluate(): Promise<DegradationDecision> {
    const readings = await this.#sample();
    const variantOf = (level: number) => (level < this.#rules.length ? this.#rules[level].use : this.#pool.defaultVariant);
    if (this.#stopped || this.#pool.disposed) {
      return { variant: variantOf(this.#level), rule: this.#rules[this.#level]?.name, switched: false, held: false, readings };
    }
    this.#evaluations++;
    for (const rule of this.#rules) {
      const value = readings[rule.kind];
      if (value === undefined) continue; // no reading: the rule keeps its state
      if (!rule.active && (rule.direction === 'above' ? value > rule.enter : value < rule.enter)) rule.active = true;
      else if (rule.active && (rule.direction === 'above' ? value < rule.leave : value > rule.leave)) rule.active = false;
    }
    let target = this.#rules.findIndex((rule) => rule.active);
    if (target < 0) target = this.#rules.length;
    let held = false;
    const at = this.#now();
    if (target > this.#level && at - this.#changedAt < this.#minDwellMs) {
      held = true;
      target = this.#level;
    }
    const active = this.#rules.filter((rule) => rule.active).map((rule) => rule.name);
    let switched = false;
    if (target !== this.#level) {
      const from = variantOf(this.#level);
      const to = variantOf(target);
      const degrade = target < this.#level;
      const rule = degrade ? this.#rules[target] : this.#rules[this.#level];
      const reason = degrade ? `${rule.name}: ${this.#describe(rule, readings)}` : target < this.#rules.length ? `${rule.name} cleared; ${this.#rules[target].name} still active` : `${rule.name} cleared: ${this.#describe(rule, readings)}`;
      this.#level = target;
      this.#changedAt = at;
      switched = this.#pool.use(to, `${degrade ? 'degrade' : 'recover'}: ${reason}`);
      this.emit(degrade ? 'degrade' : 'recover', { from, to, rule: rule.name, active, reason, readings });
    } else if (this.#pool.current !== variantOf(this.#level)) {
      // Switched by hand meanwhile: while the policy runs, it decides the serving variant.
      switched = this.#pool.use(variantOf(this.#level), `policy: ${this.#rules[this.#level]?.name ?? 'no rule active'}`);
    }
    return { variant: variantOf(this.#level), rule: this.#rules[this.#level]?.name, switched, held, readings };
  }

  #describe(rule: Rule, readings: DegradationReadings): string {
    const value = readings[rule.kind];
    const unit = rule.kind === 'temperature' ? ' °C' : rule.kind === 'p99Ms' ? ' ms' : rule.kind === 'rss' ? ' bytes' : '';
    const shown = value === undefined ? 'no reading' : `${Number(value.toFixed(3))}${unit}`;
    const op = rule.active === (rule.direction === 'above') ? '>' : '<';
    const threshold = rule.active ? rule.enter : rule.leave;
    return `${readingLabels[rule.kind]} ${shown} ${op} ${threshold}${unit}`;
  }

  async #sample(): Promise<DegradationReadings> {
    const readings: DegradationReadings = {};
    await Promise.all(
      (Object.entries(this.#sources) as [Kind, Source][]).map(async ([kind, source]) => {
        if (!source.available) return;
        try {
          const value = await source.read();
          if (value === undefined) {
            delete source.error;
            return;
          }
          if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`returned ${String(value)}, not a finite number`);
          readings[kind] = value;
          source.last = value;
          delete source.error;
        } catch (error) {
          source.error = (error as Error)?.message ?? String(error);
        }
      }),
    );
    this.#last = readings;
    return readings;
  }

  /** Rules (state and thresholds), sources (default / injected / unavailable, last reading, last error), the variant in force. */
  info(): {
    running: boolean;
    intervalMs: number;
    minDwellMs: number;
    evaluations: number;
    variant: string;
    rule?: string;
    rules: { name: string; use: string; reading: Kind; enter: number; recover: number; active: boolean }[];
    sources: Partial<Record<Kind, { available: boolean; origin: 'default' | 'injected'; detail: string; last?: number; error?: string }>>;
    readings: DegradationReadings;
  } {
    const sources: ReturnType<DegradationPolicy['info']>['sources'] = {};
    for (const [kind, source] of Object.entries(this.#sources) as [Kind, Source][]) {
      sources[kind] = { available: source.available, origin: source.origin, detail: source.detail };
      if (source.last !== undefined) sources[kind]!.last = source.last;
      if (source.error !== undefined) sources[kind]!.error = source.error;
    }
    return {
      running: !this.#stopped,
      intervalMs: this.#intervalMs,
      minDwellMs: this.#minDwellMs,
      evaluations: this.#evaluations,
      variant: this.#level < this.#rules.length ? this.#rules[this.#level].use : this.#pool.defaultVariant,
      rule: this.#rules[this.#level]?.name,
      rules: this.#rules.map((rule) => ({ name: rule.name, use: rule.use, reading: rule.kind, enter: rule.enter, recover: rule.leave, active: rule.active })),
      sources,
      readings: { ...this.#last },
    };
  }

  /** Stops sampling and releases the pool (which keeps serving its current variant). Idempotent. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#pool.off('dispose', this.#onDispose);
    if (running.get(this.#pool) === this) running.delete(this.#pool);
  }

  get stopped(): boolean {
    return this.#stopped;
  }
}
