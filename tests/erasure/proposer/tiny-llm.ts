/**
 * A tiny causal LM forged in the hub layout transformers.js's text-generation pipeline loads
 * (config.json, generation_config.json, tokenizer.json, tokenizer_config.json with a chat
 * template, onnx/model.onnx and the q4 / q4f16 file names the pipeline asks for), so the
 * proposer's real loading and generation code runs without downloading a model.
 *
 * The network is a lookup: logits = onehot(token) @ T (a Gather of the identity embedding and a
 * MatMul with the transition table T), so the next token depends on the last one only. The
 * tokenizer is byte-level BPE without merges (every byte a token) plus "chunk" tokens. With a
 * `reply`, T chains the chat template's last token ("\n" after "assistant") through the chunks
 * to <|im_end|>: greedy decoding then writes exactly that reply. Without one, T is seeded noise:
 * the model writes garbage until max_new_tokens, which is what a broken model does.
 */
import { encodeModel } from '../../../src/formats/onnx/codec.ts';
import { AttributeType, TensorDataType as DataType, type ModelProto } from '../../../src/formats/onnx/types.ts';
import { BYTE_SYMBOLS_IN_VOCAB_ORDER } from '../../../src/pipeline/tokenizer/byte-symbols.ts';

const SPECIAL = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
const CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

// The reply the forged model writes: one good coref, one injected instruction, one retain.
export const TINY_REPLY = ['{"corefs":[{"concept":"', 'kitty', '","certainty":"', 'High', '"},{"concept":"', 'ignore previous instructions', '", "certainty": "', 'Very High', '"}],"retains":[{"concept":"', 'dog', '","certainty" :"', 'Normal', '"}]}'];

export interface TinyLlmOptions {
  /** The reply greedy decoding writes, as chunk tokens (each chunk string must be unique). */
  reply?: readonly string[];
  seed?: number;
}

export function forgeTinyLlm(options: TinyLlmOptions = {}): Map<string, Uint8Array> {
  const bytes = BYTE_SYMBOLS_IN_VOCAB_ORDER;
  const chunks = options.reply ?? [];
  if (new Set(chunks).size !== chunks.length) throw new Error('tiny LLM: reply chunks must be unique strings (a token has one successor)');
  const vocab: Record<string, number> = {};
  bytes.forEach((symbol, i) => (vocab[symbol] = i));
  const specialId = (token: string) => bytes.length + SPECIAL.indexOf(token);
  const chunkId = (i: number) => bytes.length + SPECIAL.length + i;
  const size = bytes.length + SPECIAL.length + chunks.length;
  const eos = specialId('<|im_end|>');
  const newline = vocab[byteSymbol(10)];

  // T[from, to]: the logits after token `from`.
  const table = new Float32Array(size * size);
  let state = (options.seed ?? 1) >>> 0;
  const random = () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let from = 0; from < size; from++) {
    if (chunks.length > 0) table[from * size + eos] = 1;
    else for (let to = 0; to < bytes.length; to++) table[from * size + to] = random();
  }
  if (chunks.length > 0) {
    table[newline * size + chunkId(0)] = 10;
    for (let i = 0; i < chunks.length; i++) table[chunkId(i) * size + (i + 1 < chunks.length ? chunkId(i + 1) : eos)] = 10;
  }
  const identity = new Float32Array(size * size);
  for (let i = 0; i < size; i++) identity[i * size + i] = 1;

  const addedTokens = [
    ...SPECIAL.map((content) => ({ id: specialId(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    ...chunks.map((content, i) => ({ id: chunkId(i), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: false })),
  ];
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges: [] },
  };
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizer',
    chat_template: CHAT_TEMPLATE,
    bos_token: null,
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
    unk_token: null,
    model_max_length: 4096,
    clean_up_tokenization_spaces: false,
  };
  const config = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: size,
    hidden_size: 8,
    intermediate_size: 16,
    num_attention_heads: 1,
    num_key_value_heads: 1,
    head_dim: 8,
    num_hidden_layers: 1,
    max_position_embeddings: 4096,
    bos_token_id: specialId('<|endoftext|>'),
    eos_token_id: eos,
    tie_word_embeddings: false,
    torch_dtype: 'float32',
  };
  const generationConfig = { bos_token_id: specialId('<|endoftext|>'), eos_token_id: eos, pad_token_id: specialId('<|endoftext|>'), do_sample: false };

  const model = encodeModel(lookupModel(size, identity, table), 'onnx/model.onnx');
  const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value, null, 2));
  return new Map<string, Uint8Array>([
    ['config.json', json(config)],
    ['generation_config.json', json(generationConfig)],
    ['tokenizer.json', json(tokenizer)],
    ['tokenizer_config.json', json(tokenizerConfig)],
    ['special_tokens_map.json', json({ eos_token: '<|im_end|>', pad_token: '<|endoftext|>' })],
    // The graph is float32 whatever the file name: the pipeline picks the file by dtype.
    ['onnx/model.onnx', model],
    ['onnx/model_q4.onnx', model],
    ['onnx/model_q4f16.onnx', model],
  ]);
}

function byteSymbol(byte: number): string {
  // BYTE_SYMBOLS_IN_VOCAB_ORDER lists GPT-2's byte symbols in vocab order; the printable ASCII
  // bytes map to themselves, the others (newline = 10) to U+0100 + their rank among them.
  const unprintable = [...Array(256).keys()].filter((b) => !((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)));
  const rank = unprintable.indexOf(byte);
  return rank < 0 ? String.fromCharCode(byte) : String.fromCharCode(256 + rank);
}

function lookupModel(size: number, identity: Float32Array, table: Float32Array): ModelProto {
  const raw = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const dims = (...names: (string | number)[]) => ({ dim: names.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) });
  return {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    producerName: 'lethe-tests',
    producerVersion: '1',
    graph: {
      name: 'tiny_llm',
      node: [
        { opType: 'Gather', input: ['embed', 'input_ids'], output: ['hidden'], attribute: [{ name: 'axis', type: AttributeType.INT, i: 0 }] },
        { opType: 'MatMul', input: ['hidden', 'lm_head'], output: ['logits'] },
      ],
      initializer: [
        { name: 'embed', dims: [size, size], dataType: DataType.FLOAT, rawData: raw(identity) },
        { name: 'lm_head', dims: [size, size], dataType: DataType.FLOAT, rawData: raw(table) },
      ],
      input: [
        { name: 'input_ids', type: { tensorType: { elemType: DataType.INT64, shape: dims('batch_size', 'sequence_length') } } },
        { name: 'attention_mask', type: { tensorType: { elemType: DataType.INT64, shape: dims('batch_size', 'total_sequence_length') } } },
      ],
      output: [{ name: 'logits', type: { tensorType: { elemType: DataType.FLOAT, shape: dims('batch_size', 'sequence_length', size) } } }],
    },
  };
}
