/**
 * Structural checks on a ModelProto: what the decoder got from untrusted bytes, or what a caller
 * is about to encode. Returns a normalized copy (the input is not modified; bytes are shared):
 * repeated fields the types declare as required are [] when absent, bytes are plain Uint8Array
 * views, absent optional fields are left out. Throws FormatError(file, field, detail) naming
 * the first offending field. It checks shapes of the data, not operator semantics.
 */
import { FormatError } from '../../util/errors.ts';
import { dataTypeInfo, dataTypeName, elementCount, type TypedField } from './data-types.ts';
import {
  AttributeType,
  DataLocation,
  TensorDataType,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type StringStringEntry,
  type TensorProto,
  type ValueInfoProto,
} from './types.ts';

/** Subgraphs (If/Loop bodies) nest; SD exports use none, so a deep nest means a hostile file. */
const MAX_GRAPH_DEPTH = 32;

type Fields = Record<string, unknown>;

const typedFields: readonly TypedField[] = ['floatData', 'int32Data', 'int64Data', 'doubleData', 'uint64Data'];

export function validateModel(value: unknown, file: string): ModelProto {
  return new Validator(file).model(value);
}

class Validator {
  constructor(private readonly file: string) {}

  private fail(field: string, detail: string): never {
    throw new FormatError(this.file, field, detail);
  }

  private object(value: unknown, field: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, 'expected a message');
    // A shallow copy per message: validation never mutates what the caller passed in.
    return { ...(value as Fields) };
  }

  private array(value: unknown, field: string): unknown[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) this.fail(field, 'expected a repeated field');
    return value;
  }

  private int(value: unknown, field: string, min = Number.MIN_SAFE_INTEGER): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value))
      this.fail(field, `expected an integer within +-2^53, got ${String(value)}`);
    if (value < min) this.fail(field, `expected >= ${min}, got ${value}`);
    return value;
  }

  private optionalInt(o: Fields, key: string, field: string, min?: number): void {
    if (o[key] === undefined || o[key] === null) delete o[key];
    else o[key] = this.int(o[key], field, min);
  }

  private number(value: unknown, field: string): number {
    if (typeof value !== 'number') this.fail(field, `expected a number, got ${typeof value}`);
    return value;
  }

  private string(value: unknown, field: string): string {
    if (typeof value !== 'string') this.fail(field, `expected a string, got ${typeof value}`);
    return value;
  }

  private optionalString(o: Fields, key: string, field: string): void {
    if (o[key] === undefined || o[key] === null) delete o[key];
    else this.string(o[key], `${field}.${key}`);
  }

  private bytes(value: unknown, field: string): Uint8Array {
    if (!(value instanceof Uint8Array)) this.fail(field, 'expected bytes');
    // Node Buffers become plain views over the same memory so results compare and serialize alike.
    return value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }

  private entries(value: unknown, field: string): StringStringEntry[] {
    return this.array(value, field).map((e, i) => {
      const o = this.object(e, `${field}[${i}]`);
      return { key: this.string(o.key ?? '', `${field}[${i}].key`), value: this.string(o.value ?? '', `${field}[${i}].value`) };
    });
  }

  model(value: unknown): ModelProto {
    const m = this.object(value, 'ModelProto');
    if (m.irVersion === undefined || m.irVersion === null) this.fail('ir_version', 'missing');
    m.irVersion = this.int(m.irVersion, 'ir_version', 1);
    const opsets = this.array(m.opsetImport, 'opset_import');
    if (opsets.length === 0) this.fail('opset_import', 'a model must import at least one operator set');
    m.opsetImport = opsets.map((entry, i) => {
      const o = this.object(entry, `opset_import[${i}]`);
      this.optionalString(o, 'domain', `opset_import[${i}]`);
      o.version = this.int(o.version ?? 0, `opset_import[${i}].version`, 1);
      return o;
    });
    for (const key of ['producerName', 'producerVersion', 'domain', 'docString']) this.optionalString(m, key, 'model');
    this.optionalInt(m, 'modelVersion', 'model_version');
    if (m.metadataProps !== undefined) m.metadataProps = this.entries(m.metadataProps, 'metadata_props');
    if (m.graph === undefined || m.graph === null) this.fail('graph', 'missing: the model has no graph');
    m.graph = this.graph(m.graph, 'graph', 0);
    return m as unknown as ModelProto;
  }

  graph(value: unknown, field: string, depth: number): GraphProto {
    if (depth > MAX_GRAPH_DEPTH) this.fail(field, `subgraphs nested deeper than ${MAX_GRAPH_DEPTH}`);
    const g = this.object(value, field);
    this.optionalString(g, 'name', field);
    this.optionalString(g, 'docString', field);
    g.input = this.array(g.input, `${field}.input`).map((v, i) => this.valueInfo(v, `${field}.input[${i}]`, true));
    g.output = this.array(g.output, `${field}.output`).map((v, i) => this.valueInfo(v, `${field}.output[${i}]`, true));
    if (g.valueInfo !== undefined)
      g.valueInfo = this.array(g.valueInfo, `${field}.value_info`).map((v, i) => this.valueInfo(v, `${field}.value_info[${i}]`, true));

    const defined = new Set<string>();
    for (const input of g.input as ValueInfoProto[]) defined.add(input.name);
    const initializerNames = new Set<string>();
    g.initializer = this.array(g.initializer, `${field}.initializer`).map((t, i) => {
      const at = `${field}.initializer[${i}]`;
      const tensor = this.tensor(t, at);
      if (!tensor.name) this.fail(at, 'initializer has no name');
      if (initializerNames.has(tensor.name)) this.fail(at, `duplicate initializer name "${tensor.name}"`);
      initializerNames.add(tensor.name);
      defined.add(tensor.name);
      return tensor;
    });
    g.node = this.array(g.node, `${field}.node`).map((n, i) => this.node(n, `${field}.node[${i}]`, depth));
    for (const [i, node] of (g.node as NodeProto[]).entries()) {
      for (const output of node.output) {
        if (output === '') continue;
        if (defined.has(output))
          this.fail(`${field}.node[${i}]`, `output "${output}" of ${describe(node)} is already defined by another node, input or initializer`);
        defined.add(output);
      }
    }
    return g as unknown as GraphProto;
  }

  valueInfo(value: unknown, field: string, named: boolean): ValueInfoProto {
    const v = this.object(value, field);
    v.name = this.string(v.name ?? '', `${field}.name`);
    if (named && v.name === '') this.fail(`${field}.name`, 'empty');
    this.optionalString(v, 'docString', field);
    if (v.type === undefined || v.type === null) {
      delete v.type;
      return v as unknown as ValueInfoProto;
    }
    const type = this.object(v.type, `${field}.type`);
    if (type.tensorType === undefined || type.tensorType === null) {
      delete type.tensorType;
      return v as unknown as ValueInfoProto;
    }
    const tensorType = this.object(type.tensorType, `${field}.type.tensor_type`);
    tensorType.elemType = this.int(tensorType.elemType ?? 0, `${field}.type.tensor_type.elem_type`, 0);
    if (tensorType.shape === undefined || tensorType.shape === null) delete tensorType.shape;
    else {
      const shape = this.object(tensorType.shape, `${field}.type.tensor_type.shape`);
      shape.dim = this.array(shape.dim, `${field}.shape.dim`).map((d, i) => {
        const at = `${field}.shape.dim[${i}]`;
        const dim = this.object(d, at);
        this.optionalInt(dim, 'dimValue', `${at}.dim_value`, 0);
        this.optionalString(dim, 'dimParam', at);
        return dim;
      });
    }
    return v as unknown as ValueInfoProto;
  }

  node(value: unknown, field: string, depth: number): NodeProto {
    const n = this.object(value, field);
    this.optionalString(n, 'name', field);
    const at = n.name ? `${field}(${String(n.name)})` : field;
    n.opType = this.string(n.opType ?? '', `${at}.op_type`);
    if (n.opType === '') this.fail(`${at}.op_type`, 'empty');
    this.optionalString(n, 'domain', at);
    this.optionalString(n, 'docString', at);
    n.input = this.array(n.input, `${at}.input`).map((s, i) => this.string(s, `${at}.input[${i}]`));
    n.output = this.array(n.output, `${at}.output`).map((s, i) => this.string(s, `${at}.output[${i}]`));
    if (n.attribute !== undefined) {
      const names = new Set<string>();
      n.attribute = this.array(n.attribute, `${at}.attribute`).map((a, i) => {
        const attribute = this.attribute(a, `${at}.attribute[${i}]`, depth);
        if (names.has(attribute.name)) this.fail(`${at}.attribute[${i}]`, `duplicate attribute "${attribute.name}"`);
        names.add(attribute.name);
        return attribute;
      });
    }
    return n as unknown as NodeProto;
  }

  attribute(value: unknown, field: string, depth: number): AttributeProto {
    const a = this.object(value, field);
    a.name = this.string(a.name ?? '', `${field}.name`);
    if (a.name === '') this.fail(`${field}.name`, 'empty');
    const at = `${field}(${a.name})`;
    this.optionalString(a, 'docString', at);
    const type = this.int(a.type ?? 0, `${at}.type`);
    a.type = type;
    switch (type) {
      case AttributeType.FLOAT:
        a.f = this.number(a.f ?? 0, `${at}.f`);
        break;
      case AttributeType.INT:
        a.i = this.int(a.i ?? 0, `${at}.i`);
        break;
      case AttributeType.STRING:
        a.s = this.bytes(a.s ?? new Uint8Array(0), `${at}.s`);
        break;
      case AttributeType.TENSOR:
        if (a.t === undefined || a.t === null) this.fail(`${at}.t`, 'missing for a TENSOR attribute');
        a.t = this.tensor(a.t, `${at}.t`);
        break;
      case AttributeType.GRAPH:
        if (a.g === undefined || a.g === null) this.fail(`${at}.g`, 'missing for a GRAPH attribute');
        a.g = this.graph(a.g, `${at}.g`, depth + 1);
        break;
      case AttributeType.FLOATS:
        a.floats = this.array(a.floats, `${at}.floats`).map((x, i) => this.number(x, `${at}.floats[${i}]`));
        break;
      case AttributeType.INTS:
        a.ints = this.array(a.ints, `${at}.ints`).map((x, i) => this.int(x, `${at}.ints[${i}]`));
        break;
      case AttributeType.STRINGS:
        a.strings = this.array(a.strings, `${at}.strings`).map((x, i) => this.bytes(x, `${at}.strings[${i}]`));
        break;
      case AttributeType.TENSORS:
        a.tensors = this.array(a.tensors, `${at}.tensors`).map((x, i) => this.tensor(x, `${at}.tensors[${i}]`));
        break;
      case AttributeType.GRAPHS:
        a.graphs = this.array(a.graphs, `${at}.graphs`).map((x, i) => this.graph(x, `${at}.graphs[${i}]`, depth + 1));
        break;
      default:
        this.fail(`${at}.type`, `unsupported attribute type ${type} (expected 1..10: FLOAT..GRAPHS)`);
    }
    return a as unknown as AttributeProto;
  }

  tensor(value: unknown, field: string): TensorProto {
    const t = this.object(value, field);
    this.optionalString(t, 'name', field);
    const at = t.name ? `${field}(${String(t.name)})` : field;
    this.optionalString(t, 'docString', at);
    const dims = this.array(t.dims, `${at}.dims`).map((d, i) => this.int(d, `${at}.dims[${i}]`, 0));
    t.dims = dims;
    const dataType = this.int(t.dataType ?? 0, `${at}.data_type`);
    t.dataType = dataType;
    const dtype = dataTypeInfo(dataType);
    if (dtype === undefined)
      this.fail(`${at}.data_type`, `unsupported tensor data type ${dataTypeName(dataType)} (expected a numeric type)`);
    const count = elementCount(dims);
    if (count === undefined) this.fail(`${at}.dims`, `[${dims.join(', ')}] has more than 2^53 elements`);

    if (t.rawData !== undefined && t.rawData !== null) t.rawData = this.bytes(t.rawData, `${at}.raw_data`);
    else delete t.rawData;
    for (const key of typedFields) {
      if (t[key] === undefined || t[key] === null) {
        delete t[key];
        continue;
      }
      const isInt = key !== 'floatData' && key !== 'doubleData';
      t[key] = this.array(t[key], `${at}.${key}`).map((x, i) => (isInt ? this.int(x, `${at}.${key}[${i}]`) : this.number(x, `${at}.${key}[${i}]`)));
    }
    if (t.externalData !== undefined) t.externalData = this.entries(t.externalData, `${at}.external_data`);
    this.optionalInt(t, 'dataLocation', `${at}.data_location`, 0);

    const location = (t.dataLocation as number | undefined) ?? DataLocation.DEFAULT;
    const typedPresent = typedFields.filter((k) => (t[k] as unknown[] | undefined)?.length);
    if (location === DataLocation.EXTERNAL) {
      const entries = (t.externalData as StringStringEntry[] | undefined) ?? [];
      if (!entries.some((e) => e.key === 'location' && e.value !== ''))
        this.fail(`${at}.external_data`, 'data_location is EXTERNAL but no "location" entry is given');
      if (t.rawData !== undefined || typedPresent.length > 0)
        this.fail(at, 'data_location is EXTERNAL but the tensor also has inline data');
      return t as unknown as TensorProto;
    }
    if (location !== DataLocation.DEFAULT) this.fail(`${at}.data_location`, `unknown value ${location} (expected 0 or 1)`);

    const raw = t.rawData as Uint8Array | undefined;
    if (raw !== undefined && typedPresent.length > 0)
      this.fail(at, `has both raw_data and ${typedPresent.join(', ')}`);
    if (typedPresent.length > 1) this.fail(at, `has several typed data fields: ${typedPresent.join(', ')}`);
    if (raw !== undefined) {
      const expected = count * dtype.bytes;
      if (raw.byteLength !== expected)
        this.fail(`${at}.raw_data`, `${raw.byteLength} bytes, expected ${expected} (${count} x ${dtype.name})`);
    } else if (typedPresent.length === 1) {
      const key = typedPresent[0];
      if (key !== dtype.field) this.fail(`${at}.${key}`, `not the field for ${dtype.name} tensors (expected ${dtype.field})`);
      const got = (t[key] as unknown[]).length;
      if (got !== count) this.fail(`${at}.${key}`, `${got} values, expected ${count} for dims [${dims.join(', ')}]`);
    } else if (count > 0 && dataType !== TensorDataType.UNDEFINED) {
      this.fail(at, `has no data for ${count} elements`);
    }
    return t as unknown as TensorProto;
  }
}

function describe(node: NodeProto): string {
  return node.name ? `node "${node.name}" (${node.opType})` : `a ${node.opType} node`;
}
