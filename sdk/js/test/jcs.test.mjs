import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalize, paramsHash } from "../src/index.js";

const fromBits = (h) => new DataView(Uint8Array.from(h.match(/../g).map((x) => parseInt(x, 16))).buffer).getFloat64(0);

// RFC 8785 Appendix B: IEEE 754 bit patterns and their JCS serialisation.
const NUMBERS = [
  ["0000000000000000", "0"], ["8000000000000000", "0"], ["0000000000000001", "5e-324"], ["8000000000000001", "-5e-324"],
  ["7fefffffffffffff", "1.7976931348623157e+308"], ["ffefffffffffffff", "-1.7976931348623157e+308"],
  ["4340000000000000", "9007199254740992"], ["c340000000000000", "-9007199254740992"], ["4430000000000000", "295147905179352830000"],
  ["44b52d02c7e14af5", "9.999999999999997e+22"], ["44b52d02c7e14af6", "1e+23"], ["44b52d02c7e14af7", "1.0000000000000001e+23"],
  ["444b1ae4d6e2ef4e", "999999999999999700000"], ["444b1ae4d6e2ef4f", "999999999999999900000"], ["444b1ae4d6e2ef50", "1e+21"],
  ["3eb0c6f7a0b5ed8c", "9.999999999999997e-7"], ["3eb0c6f7a0b5ed8d", "0.000001"],
  ["41b3de4355555553", "333333333.3333332"], ["41b3de4355555554", "333333333.33333325"], ["41b3de4355555555", "333333333.3333333"],
  ["41b3de4355555556", "333333333.3333334"], ["41b3de4355555557", "333333333.33333343"],
  ["becbf647612f3696", "-0.0000033333333333333333"], ["43143ff3c1cb0959", "1424953923781206.2"],
];

test("JCS numbers: RFC 8785 Appendix B", () => {
  for (const [bits, want] of NUMBERS) assert.equal(canonicalize(fromBits(bits)), want, bits);
});

test("JCS refuses what JSON cannot carry faithfully", async (t) => {
  const cases = {
    NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity, undefined: { a: undefined }, function: { f() {} },
    bigint: { n: 1n }, symbol: { s: Symbol("x") }, "lone high surrogate": { s: "\ud800" }, "lone low surrogate key": { "\udc00": 1 },
    Date: { d: new Date(0) }, Map: new Map(), "nesting 33": JSON.parse("[".repeat(33) + "]".repeat(33)),
  };
  const cyc = {}; cyc.self = cyc; cases.cycle = cyc;
  for (const [name, v] of Object.entries(cases)) await t.test(name, () => assert.throws(() => canonicalize(v), TypeError));
  assert.equal(canonicalize(JSON.parse("[".repeat(32) + "]".repeat(32))), "[".repeat(32) + "]".repeat(32));
});

test("JCS structures: RFC 8785 §3.2.2 example", () => {
  const input = JSON.parse(String.raw`{
    "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
    "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
    "literals": [null, true, false]
  }`);
  assert.equal(canonicalize(input), String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`);
});

test("JCS member order: UTF-16 code units, RFC 8785 §3.2.3", () => {
  const input = { "\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", 1: "One",
    "\ud83d\ude00": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis" };
  // (read the order from the text: JS objects list integer-like keys first)
  const keys = [...canonicalize(input).matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => JSON.parse(`"${m[1]}"`));
  assert.deepEqual(keys, ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\ud83d\ude00", "\ufb33"]);
  // Integer-like keys are strings like any other: "10" sorts before "9".
  assert.equal(canonicalize({ 9: 0, 10: 0, a: 0 }), '{"10":0,"9":0,"a":0}');
});

test("JCS strings: controls escaped as the ES serialiser does, the rest literal", () => {
  assert.equal(canonicalize("\u0000\u0008\t\n\u000b\f\r\u001f \"\\/<>&\u007f\u2028é😀"),
    '"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f \\"\\\\/<>&\u007f\u2028é😀"');
});

test("paramsHash: absent and null params hash as {}", async () => {
  const empty = await paramsHash({});
  assert.equal(empty, "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  assert.equal(await paramsHash(null), empty);
  assert.equal(await paramsHash(undefined), empty);
  assert.equal(await paramsHash({ b: 1, a: [1.50, -0] }), await paramsHash({ a: [1.5, 0], b: 1.0 }));
});
