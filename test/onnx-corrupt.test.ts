/**
 * A seeded corpus of corrupted variants of the openWakeWord models: each must either load cleanly (a benign
 * corruption) or fail with an EdgeInferError carrying a code, never crash, hang or throw anything else.
 * Most (>= 90 %) must be rejected.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { EdgeInferError } from '../lib/errors';
import { Model } from '../lib/onnx/ir';
import { readModel } from '../lib/onnx/reader';
import { inferShapes, knownShapeOps } from '../lib/onnx/shapes';
import { checkSupported, validateGraph } from '../lib/onnx/validate';
import { writeModel } from '../lib/onnx/writer';
import { randomInt, rng } from './helpers/random';
import { fetchModels } from './helpers/repo';


interface Variant {
  label: string;
  bytes: Uint8Array;
  /** Options for readModel (external data cases). */
  baseDir?: string;
}

/** The whole front end a loader runs. */
function load(bytes: Uint8Array, baseDir?: string): Model {
  const model = readModel(bytes, { baseDir });
  validateGraph(model);
  checkSupported(model, new Set(knownShapeOps));
  inferShapes(model);
  return model;
}

function encode(proto: onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(proto).finish();
}

/**
 * A fresh decoded copy to mutate. Decoded protobufjs messages always carry their repeated fields (the
 * generated types mark every field optional), so the copy is typed loosely for the mutations.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;
function protoOf(bytes: Uint8Array): Loose {
  return onnx.ModelProto.decode(bytes);
}

/** Offsets of the bytes that are not inside an initializer's raw_data (protobufjs decodes bytes as views). */
function structureOffsets(bytes: Uint8Array): number[] {
  const proto: Loose = onnx.ModelProto.decode(bytes);
  const raw = (proto.graph.initializer as onnx.TensorProto[])
    .filter((t) => t.rawData && t.rawData.length > 0 && t.rawData.buffer === bytes.buffer)
    .map((t) => [t.rawData.byteOffset - bytes.byteOffset, t.rawData.byteOffset - bytes.byteOffset + t.rawData.length])
    .sort((a, b) => a[0] - b[0]);
  const offsets: number[] = [];
  let k = 0;
  for (let at = 0; at < bytes.length; at++) {
    while (k < raw.length && at >= raw[k][1]) k++;
    if (k < raw.length && at >= raw[k][0]) {
      at = raw[k][1] - 1;
      continue;
    }
    offsets.push(at);
  }
  return offsets;
}

function buildCorpus(models: Record<string, Uint8Array>, tmp: string): Variant[] {
  const next = rng(0x5eed0004);
  const pick = (items: Loose[]): Loose => items[randomInt(next, 0, items.length - 1)];
  const names = Object.keys(models);
  const out: Variant[] = [];
  const add = (label: string, bytes: Uint8Array, baseDir?: string) => out.push({ label, bytes, baseDir });

  add('empty bytes', new Uint8Array(0));
  for (let i = 0; i < 8; i++) {
    const size = randomInt(next, 1, 4096);
    add(`random bytes ${size}`, Uint8Array.from({ length: size }, () => randomInt(next, 0, 255)));
  }
  add('text file', new TextEncoder().encode('this is not an onnx model\n'));
  add('json', new TextEncoder().encode(JSON.stringify({ graph: { node: [] } })));

  // Truncated at many offsets (the start, inside the structure, inside the weights, one byte short).
  for (const name of names) {
    const bytes = models[name];
    const offsets = [1, 2, 5, 17, 64, bytes.length - 1, bytes.length - 7, bytes.length >> 1];
    for (let i = 0; i < 6; i++) offsets.push(randomInt(next, 1, bytes.length - 1));
    for (const offset of offsets) add(`${name} truncated at ${offset}`, bytes.subarray(0, offset));
  }

  // Random byte corruption in the structure (everything but the bytes of raw_data weights, where a flip is
  // only a different weight), in the first and second half of the file.
  for (const name of names) {
    const bytes = models[name];
    const structure = structureOffsets(bytes);
    for (let i = 0; i < 10; i++) {
      const copy = bytes.slice();
      const half = structure.filter((at) => (i % 2 === 0 ? at < bytes.length / 2 : at >= bytes.length / 2));
      const pool = half.length > 0 ? half : structure;
      const flips = randomInt(next, 2, 8);
      for (let f = 0; f < flips; f++) copy[pick(pool)] = randomInt(next, 0, 255);
      add(`${name} ${flips} random structure bytes (${i % 2 === 0 ? 'first' : 'second'} half)`, copy);
    }
  }

  // Protobuf-level mutations.
  const mutate = (label: string, name: string, change: (proto: Loose) => void) => {
    const proto = protoOf(models[name]);
    change(proto);
    add(`${name} ${label}`, encode(proto));
  };
  for (const name of names) {
    const withRaw = (p: Loose): onnx.TensorProto[] => p.graph.initializer.filter((t: onnx.TensorProto) => t.rawData && t.rawData.length > 0);
    mutate('without graph', name, (p) => {
      p.graph = null as unknown as onnx.GraphProto;
    });
    mutate('wrong initializer dims', name, (p) => {
      const t = pick(withRaw(p));
      t.dims = [...t.dims.map(Number), 3];
    });
    mutate('initializer dim +1', name, (p) => {
      const t = pick(withRaw(p));
      t.dims = t.dims.length ? t.dims.map((d: Loose, i: number) => (i === 0 ? Number(d) + 1 : Number(d))) : [2];
    });
    mutate('short raw_data', name, (p) => {
      const t = pick(withRaw(p));
      t.rawData = t.rawData.subarray(0, t.rawData.length - 1);
    });
    mutate('long raw_data', name, (p) => {
      const t = pick(withRaw(p));
      t.rawData = Uint8Array.from([...t.rawData.subarray(0, 16), ...t.rawData]);
    });
    mutate('negative initializer dim', name, (p) => {
      const t = pick(withRaw(p));
      t.dims = [-1, ...t.dims.slice(1)];
    });
    mutate('huge initializer dims', name, (p) => {
      const t = pick(withRaw(p));
      t.dims = [2 ** 20, 2 ** 20, 2 ** 12];
    });
    mutate('unknown data type', name, (p) => {
      pick(withRaw(p)).dataType = 99;
    });
    mutate('data type UNDEFINED', name, (p) => {
      pick(withRaw(p)).dataType = 0;
    });
    mutate('float data in int64 slot', name, (p) => {
      const t = pick(withRaw(p));
      t.dataType = onnx.TensorProto.DataType.INT64;
    });
    mutate('negative input dim', name, (p) => {
      const dims = p.graph.input[0].type!.tensorType!.shape!.dim;
      dims[dims.length - 1] = { dimValue: -5 };
    });
    mutate('wrong input dim', name, (p) => {
      const dims = p.graph.input[0].type!.tensorType!.shape!.dim;
      dims[dims.length - 1] = { dimValue: Number(dims[dims.length - 1].dimValue ?? 7) + 3 };
    });
    mutate('input rank +1', name, (p) => {
      p.graph.input[0].type!.tensorType!.shape!.dim.push({ dimValue: 2 });
    });
    for (let k = 0; k < 3; k++) {
      mutate(`dangling input #${k}`, name, (p) => {
        const node = pick(p.graph.node.filter((n: Loose) => n.input.length > 0));
        node.input[randomInt(next, 0, node.input.length - 1)] = `missing_value_${k}`;
      });
    }
    mutate('cycle (first node reads the last output)', name, (p) => {
      const first = p.graph.node.find((n: Loose) => n.input.length > 0)!;
      const last = p.graph.node[p.graph.node.length - 1];
      first.input[0] = last.output[0];
    });
    mutate('self loop', name, (p) => {
      const node = pick(p.graph.node.filter((n: Loose) => n.input.length > 0 && n.opType !== 'Constant'));
      node.input[0] = node.output[0];
    });
    mutate('duplicate node output', name, (p) => {
      const nodes = p.graph.node;
      nodes[nodes.length - 1].output[0] = nodes[0].output[0];
    });
    mutate('duplicate initializer', name, (p) => {
      p.graph.initializer.push(p.graph.initializer[0]);
    });
    mutate('duplicate node name', name, (p) => {
      p.graph.node[1].name = p.graph.node[0].name || 'x';
      p.graph.node[0].name = p.graph.node[1].name;
    });
    mutate('unknown op', name, (p) => {
      pick(p.graph.node).opType = 'FrobnicateV2';
    });
    mutate('two unknown ops', name, (p) => {
      p.graph.node[0].opType = 'Foo';
      p.graph.node[p.graph.node.length - 1].opType = 'Bar';
    });
    mutate('missing opset import', name, (p) => {
      p.opsetImport = [];
    });
    mutate('undefined graph output', name, (p) => {
      p.graph.output[0].name = 'nobody_makes_this';
    });
    mutate('no op type', name, (p) => {
      pick(p.graph.node).opType = '';
    });
    mutate('transposed 2-D initializer', name, (p) => {
      const candidates = withRaw(p).filter((t) => t.dims.length >= 2 && Number(t.dims[0]) !== Number(t.dims[1]));
      const t = candidates.length ? pick(candidates) : pick(withRaw(p));
      if (t.dims.length >= 2) [t.dims[0], t.dims[1]] = [t.dims[1], t.dims[0]];
      else t.dims = [Number(t.dims[0] ?? 1), 0];
    });
    mutate('bad attribute (ints where int expected)', name, (p) => {
      const node = pick(p.graph.node.filter((n: Loose) => n.attribute.some((a: Loose) => a.type === onnx.AttributeProto.AttributeType.INT)));
      if (!node) return;
      const a = node.attribute.find((x: Loose) => x.type === onnx.AttributeProto.AttributeType.INT)!;
      a.type = onnx.AttributeProto.AttributeType.STRINGS;
    });
  }

  // IR-level mutations that must fail shape inference.
  const irMutate = (label: string, name: string, change: (model: Model) => void) => {
    const model = readModel(models[name]);
    change(model);
    add(`${name} ${label}`, writeModel(model));
  };
  for (const name of names) {
    irMutate('bias of the wrong size', name, (m) => {
      const adds = m.graph.nodes.filter((n: Loose) => ['Add', 'Gemm', 'Conv', 'Max'].includes(n.opType));
      const node = adds[0];
      if (!node) return;
      const index = node.opType === 'Gemm' || node.opType === 'Conv' ? 2 : 1;
      const bad = `bad_bias_${name}`;
      m.graph.initializers.set(bad, { dtype: 'float32', dims: [5], data: new Float32Array(5) });
      node.inputs[index] = bad;
    });
    irMutate('MatMul/Gemm/Conv weight with a wrong inner dim', name, (m) => {
      const node = m.graph.nodes.find((n: Loose) => ['Gemm', 'MatMul', 'Conv'].includes(n.opType))!;
      const weight = m.graph.initializers.get(node.inputs[1])!;
      const dims = node.opType === 'Gemm' ? [weight.dims[0], weight.dims[1] + 1] : node.opType === 'Conv' ? [weight.dims[0], weight.dims[1] + 2, ...weight.dims.slice(2)] : [weight.dims[0] + 1, weight.dims[1]];
      const count = dims.reduce((a, b) => a * b, 1);
      m.graph.initializers.set(node.inputs[1], { dtype: 'float32', dims, data: new Float32Array(count) });
    });
  }

  // External data: escaping paths, missing files, wrong ranges, missing baseDir.
  const base = models[names[0]];
  const externalCase = (label: string, location: string, offset: number, length: number | undefined, baseDir: string | undefined) => {
    const proto = protoOf(base);
    const t = proto.graph.initializer.find((x: Loose) => x.rawData && x.rawData.length > 0)!;
    const entries = [{ key: 'location', value: location }, { key: 'offset', value: String(offset) }];
    if (length !== undefined) entries.push({ key: 'length', value: String(length) });
    fs.writeFileSync(path.join(tmp, 'weights.bin'), t.rawData);
    t.rawData = new Uint8Array(0);
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = entries;
    add(`external data: ${label}`, encode(proto), baseDir);
  };
  const rawLength = protoOf(base).graph.initializer.find((x: Loose) => x.rawData && x.rawData.length > 0)!.rawData.length;
  externalCase('escapes with ..', '../etc/passwd', 0, undefined, tmp);
  externalCase('absolute path', '/etc/passwd', 0, undefined, tmp);
  externalCase('missing file', 'nope.bin', 0, undefined, tmp);
  externalCase('offset past the end', 'weights.bin', 1, rawLength, tmp);
  externalCase('wrong length', 'weights.bin', 0, rawLength - 4, tmp);
  externalCase('no baseDir', 'weights.bin', 0, rawLength, undefined);
  externalCase('bad offset text', 'weights.bin', -1, rawLength, tmp);
  return out;
}

describe('ONNX front end: corrupted models', function () {
  let models: Record<string, Uint8Array>;
  let tmp: string;

  before(function () {
    const files = fetchModels();
    models = Object.fromEntries(Object.entries(files).map(([name, file]) => [name.replace(/\.onnx$/, ''), new Uint8Array(fs.readFileSync(file))]));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-corrupt-'));
  });

  after(function () {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('the untouched fixtures load', function () {
    for (const [name, bytes] of Object.entries(models)) assert.doesNotThrow(() => load(bytes), name);
  });

  it('rejects >= 90 % of >= 200 corrupted variants with an EdgeInferError each, and never anything else', function () {
    const corpus = buildCorpus(models, tmp);
    assert.ok(corpus.length >= 200, `corpus has ${corpus.length} variants`);
    let rejected = 0;
    const accepted: string[] = [];
    const codes = new Map<string, number>();
    for (const variant of corpus) {
      try {
        load(variant.bytes, variant.baseDir);
        accepted.push(variant.label);
      } catch (error) {
        if (!(error instanceof EdgeInferError)) {
          assert.fail(`${variant.label}: threw ${(error as Error)?.constructor?.name}: ${(error as Error)?.stack ?? String(error)}`);
        }
        assert.notEqual(error.code, 'EDGEINFER_INTERNAL', `${variant.label}: internal error ${error.message}`);
        assert.match(error.code, /^EDGEINFER_/);
        assert.ok(error.message.length > 10, `${variant.label}: message too short: ${error.message}`);
        codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
        rejected++;
      }
    }
    const rate = rejected / corpus.length;
    console.log(`      corpus ${corpus.length} variants, rejected ${rejected} (${(100 * rate).toFixed(1)} %), codes ${JSON.stringify(Object.fromEntries(codes))}`);
    if (accepted.length) console.log(`      loaded without error (benign): ${accepted.join('; ')}`);
    assert.ok(rate >= 0.9, `only ${(100 * rate).toFixed(1)} % rejected`);
  });

  it('names node, op and problem', function () {
    const proto = protoOf(models['hey_mycroft_v0.1']);
    const node = proto.graph.node[3];
    node.input[0] = 'ghost';
    assert.throws(() => load(encode(proto)), (error: EdgeInferError) => {
      assert.equal(error.code, 'EDGEINFER_MODEL_INVALID');
      assert.equal(error.detail?.node, node.name);
      assert.equal(error.detail?.op, node.opType);
      assert.equal(error.detail?.problem, 'dangling input');
      assert.match(error.message, /dangling input/);
      return true;
    });
  });

  it('reports a cycle with the nodes in it', function () {
    const proto = protoOf(models['alexa_v0.1']);
    // Flatten -> Gemm -> Relu -> Gemm ...: make the Flatten read the first Relu's output.
    const relu = proto.graph.node.find((n: Loose) => n.opType === 'Relu')!;
    proto.graph.node[0].input[0] = relu.output[0];
    assert.throws(() => load(encode(proto)), (error: EdgeInferError) => {
      assert.equal(error.code, 'EDGEINFER_MODEL_INVALID');
      assert.equal(error.detail?.problem, 'cycle');
      const nodes = error.detail?.nodes as string[];
      assert.ok(nodes.includes(relu.name) && nodes.includes(proto.graph.node[0].name), JSON.stringify(nodes));
      return true;
    });
  });

  it('lists every unsupported op at once', function () {
    const proto = protoOf(models['hey_mycroft_v0.1']);
    proto.graph.node[0].opType = 'Foo';
    proto.graph.node[1].opType = 'Bar';
    proto.graph.node[2].opType = 'Foo';
    const model = readModel(encode(proto));
    assert.throws(() => checkSupported(model, new Set(knownShapeOps)), (error: EdgeInferError) => {
      assert.equal(error.code, 'EDGEINFER_UNSUPPORTED_OP');
      assert.deepEqual(error.detail?.unsupported, [
        { op: 'Foo', nodes: [proto.graph.node[0].name, proto.graph.node[2].name] },
        { op: 'Bar', nodes: [proto.graph.node[1].name] },
      ]);
      return true;
    });
  });

  it('reports mismatched shapes with node and shapes', function () {
    const model = readModel(models['alexa_v0.1']);
    const gemm = model.graph.nodes.find((n: Loose) => n.opType === 'Gemm')!;
    model.graph.initializers.set(gemm.inputs[2], { dtype: 'float32', dims: [5], data: new Float32Array(5) });
    assert.throws(() => inferShapes(model), (error: EdgeInferError) => {
      assert.equal(error.code, 'EDGEINFER_SHAPE_MISMATCH');
      assert.equal(error.detail?.node, gemm.name);
      assert.equal(error.detail?.op, 'Gemm');
      assert.ok(error.detail?.shapes);
      return true;
    });
  });
});
