// Writes golden.jsonl: strings and their cl100k_base token ids from OpenAI's
// tiktoken (npm "tiktoken", the Rust library compiled to WebAssembly, with
// special tokens read as plain text: encode_ordinary), the
// reference package cl100k's tests compare with. To regenerate:
//
//	cd internal/cl100k/testdata && npm install --no-save tiktoken@1 && node golden.js
const fs = require("fs");
const { get_encoding } = require("tiktoken");
const enc = get_encoding("cl100k_base");

// Pieces chosen to exercise every branch of the split pattern: contractions
// in both cases, letters and marks of several scripts, numbers of several
// kinds, every kind of whitespace (and newlines among them), punctuation,
// control characters and emoji.
const pieces = [
  " ", "  ", "   ", "\n", "\n\n", "\r\n", "\r", "\t", "\v", "\f", "\u0085", "\u00a0", "\u1680", "\u2003", "\u2028", "\u2029", "\u3000",
  "a", "Z", "the", " the", "Hello", "é", "ß", "ǅ", "日本", "한", "ж", "ا", "\u0301", "\u0903", "ʰ",
  "'s", "'S", "'t", "'re", "'RE", "'ve", "'m", "'ll", "'LL", "'d", "'D", "'", "''", "'x",
  "1", "12", "123", "1234567", "٣", "½", "Ⅷ", "²", "𝟙",
  "!", "?", "...", "$", "-", "_", "<|endoftext|>", "{", "}", "\"", "#", "@", "—", "“", "€",
  "\x00", "\x01", "\x1b", "\x7f", "\u0080", "\u009f", "\u200b", "\u200d", "\ufeff",
  "😀", "👍🏽", "🇫🇷", "👨‍👩‍👧",
];
let seed = 20261128;
const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };

const strings = [];
for (let i = 0; i < 6000; i++) {
  let s = "";
  const n = 1 + rnd(12);
  for (let k = 0; k < n; k++) s += pieces[rnd(pieces.length)];
  strings.push(s);
}
for (const p of pieces) strings.push(p, p + p, " " + p, p + "\n", "x" + p + "y");
// The simulated engine's corpus, whole and line by line: fluent prose.
const corpus = fs.readFileSync(__dirname + "/../../../stack/llmserver/sim/corpus.txt", "utf8");
strings.push(corpus, ...corpus.split("\n").filter((l) => l));
strings.push("=".repeat(300), "ab".repeat(200), " ".repeat(200) + "x", "\n \n".repeat(20), "🙂".repeat(50));

const out = strings.map((s) => JSON.stringify({ s, ids: Array.from(enc.encode_ordinary(s)) })).join("\n") + "\n";
fs.writeFileSync("golden.jsonl", out);
console.log(`wrote golden.jsonl: ${strings.length} strings`);
