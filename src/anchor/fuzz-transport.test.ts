import { expect, test } from "bun:test";
import { fuzzTransport } from "./fuzz-transport.ts";

test("fuzz: transport, replay, cell and switch parsers never throw or accept a mutation; heap flat", () => {
  const rep = fuzzTransport(200_000, 7);
  expect(rep.failures).toEqual([]);
  expect(rep.accepted).toBe(0);
  expect(rep.typedErrors).toBe(0);
  expect(rep.heapEndMb - rep.heapStartMb).toBeLessThan(16);
}, 60_000);
