import { expect, test } from "bun:test";
import { Identity } from "../identity.ts";
import { seededRng } from "../rng.ts";
import { SKIN_SIZE } from "./cell.ts";
import { acceptSkin, checkConfirm, confirmTag, makeSkin, openExtend, sealExtend } from "./hop-key.ts";

const hop = Identity.generate(seededRng("hop key hop"));
const other = Identity.generate(seededRng("hop key other"));
const info = { nodeId: hop.nodeId, ...hop.publicKeys };

test("only the addressed hop derives the origin's hop keys", () => {
  const { skin, keys } = makeSkin(info);
  expect(skin.length).toBe(SKIN_SIZE);
  const mine = acceptSkin(hop, skin)!;
  expect(Buffer.from(mine.forward).equals(Buffer.from(keys.forward))).toBe(true);
  expect(Buffer.from(mine.backward).equals(Buffer.from(keys.backward))).toBe(true);
  expect(checkConfirm(keys, confirmTag(mine))).toBe(true);
  const theirs = acceptSkin(other, skin);
  expect(theirs === null || !checkConfirm(keys, confirmTag(theirs))).toBe(true);
  const bent = skin.slice();
  bent[100]! ^= 1;
  const b = acceptSkin(hop, bent);
  expect(b === null || !checkConfirm(keys, confirmTag(b))).toBe(true);
  expect(acceptSkin(hop, skin.subarray(1))).toBeNull();
  expect(acceptSkin(hop, new Uint8Array(SKIN_SIZE))).toBeNull(); // all-zero X25519 point
});

test("EXTEND bodies open only with the right key and unmodified", () => {
  const { keys } = makeSkin(info);
  const plain = new Uint8Array(40).fill(3);
  const body = sealExtend(keys, 4, plain);
  expect(openExtend(keys, body)).toEqual({ seq: 4, plain });
  for (const at of [0, 5, body.length - 1]) {
    const bad = body.slice();
    bad[at]! ^= 1;
    expect(openExtend(keys, bad)).toBeNull();
  }
  expect(openExtend(makeSkin(info).keys, body)).toBeNull();
  expect(openExtend(keys, body.subarray(0, 10))).toBeNull();
});
