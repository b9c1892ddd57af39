// tf.train.Example, decoded and encoded with protobufjs. The schema (tensorflow/core/example):
//   Example { Features features = 1 }   Features { map<string, Feature> feature = 1 }
//   Feature { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3 } }
//   BytesList { repeated bytes value = 1 }  FloatList { repeated float value = 1 [packed] }
//   Int64List { repeated int64 value = 1 [packed] }
// protobufjs reads packed and unpacked repeated fields alike.
import protobuf from 'protobufjs';

const root = protobuf.Root.fromJSON({
  nested: {
    BytesList: { fields: { value: { rule: 'repeated', type: 'bytes', id: 1 } } },
    FloatList: { fields: { value: { rule: 'repeated', type: 'float', id: 1, options: { packed: true } } } },
    Int64List: { fields: { value: { rule: 'repeated', type: 'int64', id: 1, options: { packed: true } } } },
    Feature: {
      oneofs: { kind: { oneof: ['bytesList', 'floatList', 'int64List'] } },
      fields: {
        bytesList: { type: 'BytesList', id: 1 },
        floatList: { type: 'FloatList', id: 2 },
        int64List: { type: 'Int64List', id: 3 },
      },
    },
    Features: { fields: { feature: { keyType: 'string', type: 'Feature', id: 1 } as protobuf.IField } },
    Example: { fields: { features: { type: 'Features', id: 1 } } },
  },
});
const ExampleType = root.lookupType('Example');

export type FeatureValue =
  { kind: 'bytes'; value: Uint8Array[] } | { kind: 'float'; value: Float32Array } | { kind: 'int64'; value: number[] };

export type Features = Map<string, FeatureValue>;

interface RawFeature {
  bytesList?: { value?: Uint8Array[] };
  floatList?: { value?: number[] };
  int64List?: { value?: (number | { toNumber(): number })[] };
}

/** An int64 as a JavaScript number, refused beyond ±(2^53 − 1) where it would be silently rounded
 *  (an episode_id of 2^53 + 1 would read as 2^53). */
function exactInt(v: number | { toNumber(): number }, name: string): number {
  const n = typeof v === 'number' ? v : v.toNumber();
  if (!Number.isSafeInteger(n))
    throw new Error(`feature ${name} holds the int64 ${String(v)}, beyond ±(2^53 − 1), which cannot be read exactly`);
  return n;
}

/** Decodes one serialized Example. Throws protobufjs's errors; callers wrap them with context. */
export function decodeExample(data: Uint8Array): Features {
  const msg = ExampleType.decode(data) as unknown as { features?: { feature?: Record<string, RawFeature> } };
  const out: Features = new Map();
  for (const [name, f] of Object.entries(msg.features?.feature ?? {})) {
    if (f.bytesList) out.set(name, { kind: 'bytes', value: f.bytesList.value ?? [] });
    else if (f.floatList) out.set(name, { kind: 'float', value: Float32Array.from(f.floatList.value ?? []) });
    else if (f.int64List) out.set(name, { kind: 'int64', value: (f.int64List.value ?? []).map((v) => exactInt(v, name)) });
    else out.set(name, { kind: 'bytes', value: [] });
  }
  return out;
}

export function encodeExample(features: Features): Uint8Array {
  const feature: Record<string, RawFeature> = {};
  for (const [name, f] of features) {
    if (f.kind === 'bytes') feature[name] = { bytesList: { value: f.value } };
    else if (f.kind === 'float') feature[name] = { floatList: { value: Array.from(f.value) } };
    else feature[name] = { int64List: { value: f.value } };
  }
  return ExampleType.encode(ExampleType.fromObject({ features: { feature } })).finish();
}
