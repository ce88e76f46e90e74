/** ONNX reader/writer on the real openWakeWord models: op counts, bit-exact round trips, external data, Constant weights. */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { EdgeInferError } from '../lib/errors';
import { Graph, Model, TensorData } from '../lib/onnx/ir';
import { readModel } from '../lib/onnx/reader';
import { tensorBytes } from '../lib/onnx/tensor';
import { validateGraph } from '../lib/onnx/validate';
import { writeModel } from '../lib/onnx/writer';
import { fetchModels } from './helpers/repo';


function opCounts(graph: Graph): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of graph.nodes) counts[node.opType] = (counts[node.opType] ?? 0) + 1;
  return counts;
}

function assertSameTensor(a: TensorData, b: TensorData, label: string): void {
  assert.equal(a.dtype, b.dtype, label);
  assert.deepEqual(a.dims, b.dims, label);
  assert.deepEqual(Buffer.from(tensorBytes(a)), Buffer.from(tensorBytes(b)), label);
}

function assertSameGraph(a: Graph, b: Graph): void {
  assert.equal(a.nodes.length, b.nodes.length);
  a.nodes.forEach((node, i) => {
    const other = b.nodes[i];
    assert.deepEqual([other.name, other.opType, other.domain, other.inputs, other.outputs], [node.name, node.opType, node.domain, node.inputs, node.outputs]);
    assert.deepEqual(Object.keys(other.attributes), Object.keys(node.attributes));
    for (const [name, attribute] of Object.entries(node.attributes)) {
      const copy = other.attributes[name];
      if (attribute.type === 'tensor' && copy.type === 'tensor') assertSameTensor(attribute.value, copy.value, `${node.name}.${name}`);
      else if (attribute.type === 'graph' && copy.type === 'graph') assertSameGraph(attribute.value, copy.value);
      else assert.deepEqual(copy, attribute, `${node.name}.${name}`);
    }
  });
  assert.deepEqual([...b.initializers.keys()], [...a.initializers.keys()]);
  for (const [name, tensor] of a.initializers) assertSameTensor(tensor, b.initializers.get(name)!, name);
  assert.deepEqual(b.inputs, a.inputs);
  assert.deepEqual(b.outputs, a.outputs);
}

describe('ONNX reader and writer', function () {
  let files: Record<string, string>;
  const models: Record<string, Model> = {};

  before(function () {
    files = fetchModels();
    for (const [name, file] of Object.entries(files)) models[name] = readModel(new Uint8Array(fs.readFileSync(file)));
  });

  it('reads all six openWakeWord models with their ops, opsets and initializers', function () {
    assert.deepEqual(Object.keys(models).sort(), [
      'alexa_v0.1.onnx', 'embedding_model.onnx', 'hey_jarvis_v0.1.onnx', 'hey_mycroft_v0.1.onnx', 'melspectrogram.onnx', 'timer_v0.1.onnx',
    ]);
    for (const model of Object.values(models)) {
      assert.equal(model.opsets.get(''), 13);
      validateGraph(model);
    }
    assert.deepEqual(opCounts(models['alexa_v0.1.onnx'].graph), { Flatten: 1, Gemm: 3, Relu: 2, Sigmoid: 1 });
    assert.deepEqual(opCounts(models['embedding_model.onnx'].graph), { Reshape: 2, Conv: 20, LeakyRelu: 19, Max: 19, MaxPool: 5 });
    assert.deepEqual(opCounts(models['timer_v0.1.onnx'].graph), { Flatten: 1, Gemm: 3, Relu: 3, Softmax: 1 });
    assert.equal(models['hey_jarvis_v0.1.onnx'].graph.nodes.length, 33);
    assert.equal(models['hey_mycroft_v0.1.onnx'].graph.nodes.length, 29);
    assert.equal(models['melspectrogram.onnx'].graph.nodes.length, 29);
    assert.equal(models['embedding_model.onnx'].opsets.get('ai.onnx.ml'), 2);
    assert.deepEqual(models['embedding_model.onnx'].graph.inputs[0].shape, ['unk__314', 76, 32, 1]);
    const weight = models['alexa_v0.1.onnx'].graph.initializers.get('1.weight')!;
    assert.equal(weight.dtype, 'float32');
    assert.deepEqual(weight.dims, [128, 1536]);
    assert.ok(weight.data instanceof Float32Array && weight.data.length === 128 * 1536);
    assert.equal(weight.data.byteOffset % 4, 0);
  });

  it('reads hey_jarvis If branches as subgraphs and normalizes Constant values', function () {
    const graph = models['hey_jarvis_v0.1.onnx'].graph;
    const ifNode = graph.nodes.find((n) => n.opType === 'If')!;
    const then = ifNode.attributes.then_branch;
    const otherwise = ifNode.attributes.else_branch;
    assert.equal(then.type, 'graph');
    assert.equal(otherwise.type, 'graph');
    const sizes = [then, otherwise].map((a) => (a.type === 'graph' ? a.value.nodes.length : 0)).sort();
    assert.deepEqual(sizes, [1, 29]);
    for (const node of graph.nodes.filter((n) => n.opType === 'Constant')) assert.equal(node.attributes.value.type, 'tensor');
  });

  it('round-trips every model through the writer bit-exactly', function () {
    for (const [name, model] of Object.entries(models)) {
      const again = readModel(writeModel(model));
      assertSameGraph(model.graph, again.graph);
      assert.deepEqual([...again.opsets], [...model.opsets], name);
      assert.equal(again.irVersion, model.irVersion);
    }
  });

  it('names unnamed nodes <opType>_<index> and keeps metadata', function () {
    const model = readModel(writeModel(models['alexa_v0.1.onnx']));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const proto: any = onnx.ModelProto.decode(writeModel(model));
    proto.graph.node[1].name = '';
    proto.metadataProps = [{ key: 'author', value: 'test' }];
    const read = readModel(onnx.ModelProto.encode(proto).finish());
    assert.equal(read.graph.nodes[1].name, `${proto.graph.node[1].opType}_1`);
    assert.deepEqual(read.metadata, { author: 'test' });
  });

  it('reads typed data fields (float_data, int64_data, int32_data for float16/bool/int8) and Constant-only weights', function () {
    const T = onnx.TensorProto.DataType;
    const A = onnx.AttributeProto.AttributeType;
    const proto: onnx.IModelProto = {
      irVersion: 8,
      opsetImport: [{ domain: '', version: 13 }],
      graph: {
        name: 'typed',
        input: [{ name: 'x', type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimParam: 'N' }, { dimValue: 3 }] } } } }],
        output: [{ name: 'y', type: { tensorType: { elemType: T.FLOAT } } }],
        node: [
          { opType: 'Constant', output: ['w'], attribute: [{ name: 'value', type: A.TENSOR, t: { dataType: T.FLOAT, dims: [3, 2], floatData: [1, 2, 3, 4, 5, 6] } }] },
          { opType: 'Constant', output: ['b'], attribute: [{ name: 'value_floats', type: A.FLOATS, floats: [0.5, -0.5] }] },
          { opType: 'Constant', output: ['k'], attribute: [{ name: 'value_ints', type: A.INTS, ints: [7, -8] }] },
          { opType: 'MatMul', input: ['x', 'w'], output: ['xw'] },
          { opType: 'Add', input: ['xw', 'b'], output: ['y'] },
        ],
        initializer: [
          { name: 'i64', dataType: T.INT64, dims: [2], int64Data: [-3, 9007199254740991] },
          { name: 'h', dataType: T.FLOAT16, dims: [2], int32Data: [0x3c00, 0xc000] },
          { name: 'flags', dataType: T.BOOL, dims: [3], int32Data: [1, 0, 1] },
          { name: 'small', dataType: T.INT8, dims: [2], int32Data: [-128, 127] },
          { name: 'd', dataType: T.DOUBLE, dims: [], doubleData: [Math.PI] },
        ],
      },
    };
    const model = readModel(onnx.ModelProto.encode(proto).finish());
    const g = model.graph;
    assert.deepEqual(g.nodes.map((n) => n.name), ['Constant_0', 'Constant_1', 'Constant_2', 'MatMul_3', 'Add_4']);
    const constants = g.nodes.filter((n) => n.opType === 'Constant').map((n) => (n.attributes.value.type === 'tensor' ? n.attributes.value.value : undefined)!);
    assert.deepEqual([...constants[0].data], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(constants[1].dims, [2]);
    assert.deepEqual([...constants[2].data], [7n, -8n]);
    assert.deepEqual([...g.initializers.get('i64')!.data], [-3n, 9007199254740991n]);
    assert.deepEqual([...g.initializers.get('h')!.data], [0x3c00, 0xc000]);
    assert.deepEqual([...g.initializers.get('flags')!.data], [1, 0, 1]);
    assert.deepEqual([...g.initializers.get('small')!.data], [-128, 127]);
    assert.deepEqual(g.initializers.get('d')!.dims, []);
    assert.deepEqual(g.inputs[0].shape, ['N', 3]);
    const again = readModel(writeModel(model));
    assertSameGraph(model.graph, again.graph);
  });

  it('reads external data relative to baseDir and refuses paths escaping it', function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edgeinfer-external-'));
    try {
      const source = fs.readFileSync(files['alexa_v0.1.onnx']);
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const proto: any = onnx.ModelProto.decode(source);
      const blobs: Buffer[] = [];
      let offset = 0;
      for (const t of proto.graph.initializer) {
        const raw = Buffer.from(t.rawData);
        t.externalData = [{ key: 'location', value: 'weights/alexa.bin' }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(raw.length) }];
        t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
        t.rawData = new Uint8Array(0);
        blobs.push(raw);
        offset += raw.length;
      }
      fs.mkdirSync(path.join(dir, 'weights'));
      fs.writeFileSync(path.join(dir, 'weights', 'alexa.bin'), Buffer.concat(blobs));
      const bytes = onnx.ModelProto.encode(proto).finish();
      const model = readModel(bytes, { baseDir: dir });
      assertSameGraph(models['alexa_v0.1.onnx'].graph, model.graph);
      const first = model.graph.initializers.values().next().value!;
      assert.equal(first.external?.path, fs.realpathSync(path.join(dir, 'weights', 'alexa.bin')));

      assert.throws(() => readModel(bytes), (e: EdgeInferError) => e.code === 'EDGEINFER_MODEL_INVALID' && /baseDir/.test(e.message));
      proto.graph.initializer[0].externalData[0].value = '../../etc/passwd';
      assert.throws(() => readModel(onnx.ModelProto.encode(proto).finish(), { baseDir: dir }), (e: EdgeInferError) => e.code === 'EDGEINFER_MODEL_INVALID' && /escapes/.test(e.message));
      fs.symlinkSync('/etc', path.join(dir, 'link'));
      proto.graph.initializer[0].externalData[0].value = 'link/passwd';
      assert.throws(() => readModel(onnx.ModelProto.encode(proto).finish(), { baseDir: dir }), (e: EdgeInferError) => e.code === 'EDGEINFER_MODEL_INVALID');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
