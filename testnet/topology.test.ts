import { describe, expect, test } from "bun:test";
import { TopologyError } from "./errors.ts";
import { MAX_IFNAME } from "./names.ts";
import { ipv4ToInt, makePlan, sharedEdges } from "./plan.ts";
import { checkTopology, loadTopology, randomTopology } from "./topology.ts";

const IN_BENCH_RANGE = (a: string) => (ipv4ToInt(a) & 0xfffe0000) >>> 0 === ipv4ToInt("198.18.0.0");

function connected(t: ReturnType<typeof randomTopology>): boolean {
  const adj = new Map<string, string[]>(t.hosts.map((h) => [h.name, []]));
  for (const l of t.links) {
    adj.get(l.a)!.push(l.b);
    adj.get(l.b)!.push(l.a);
  }
  const seen = new Set(["h1"]);
  const stack = ["h1"];
  while (stack.length > 0)
    for (const n of adj.get(stack.pop()!) ?? []) if (!seen.has(n)) seen.add(n) && stack.push(n);
  return seen.size === t.hosts.length;
}

describe("built-in topologies", () => {
  test("line5 links only neighbours", () => {
    const t = loadTopology("line5");
    expect(t.links.map((l) => `${l.a}-${l.b}`)).toEqual(["h1-h2", "h2-h3", "h3-h4", "h4-h5"]);
  });

  test("ring6 closes the ring", () => {
    const t = loadTopology("ring6");
    expect(t.links).toHaveLength(6);
    expect(t.links.at(-1)).toEqual({ a: "h6", b: "h1" });
  });

  test("nat4 puts two hosts behind each NAT router and control on the public segment", () => {
    const plan = makePlan(loadTopology("nat4"), "vnx");
    const node = (n: string) => plan.nodes.find((x) => x.name === n)!;
    expect(node("r1").nat).toEqual({ mode: "masquerade", wanIf: expect.any(String) });
    expect(node("h1").gateway?.via).toBe(sharedEdges(plan, "r1", "h1")[0]!.local.address!);
    expect(node("h3").gateway?.via).toBe(sharedEdges(plan, "r2", "h3")[0]!.local.address!);
    expect(node("control").gateway).toBeUndefined();
    expect(sharedEdges(plan, "control", "h1")).toEqual([]);
    expect(sharedEdges(plan, "control", "r1")).toHaveLength(1);
  });

  test("random N is connected, deterministic per seed, and differs across seeds", () => {
    for (const seed of [1, 2, 3, 42]) {
      const t = randomTopology(12, seed);
      expect(connected(t)).toBe(true);
      expect(t.links.length).toBeGreaterThan(11);
      expect(randomTopology(12, seed).links).toEqual(t.links);
    }
    expect(randomTopology(12, 1).links).not.toEqual(randomTopology(12, 2).links);
    expect(loadTopology("random:7", { seed: 5 }).hosts).toHaveLength(7);
  });
});

describe("plan", () => {
  test("names fit IFNAMSIZ and carry the prefix; addresses are unique and in 198.18.0.0/15", () => {
    for (const name of ["pair", "line5", "ring6", "nat4", "random:60"]) {
      const plan = makePlan(loadTopology(name), "vnabcdef");
      const addrs = new Set<string>();
      for (const e of plan.edges) {
        for (const end of e.ends) {
          expect(end.ifname.length).toBeLessThanOrEqual(MAX_IFNAME);
          expect(end.ifname.startsWith("vnabcdef-")).toBe(true);
          expect(end.netns.startsWith("vnabcdef-")).toBe(true);
          if (end.address) {
            expect(IN_BENCH_RANGE(end.address)).toBe(true);
            expect(addrs.has(end.address)).toBe(false);
            addrs.add(end.address);
          }
        }
      }
    }
  });

  test("each line5 link is its own /30", () => {
    const plan = makePlan(loadTopology("line5"), "vn1");
    expect(plan.edges.map((e) => e.subnet)).toEqual([
      "198.19.0.0/30",
      "198.19.0.4/30",
      "198.19.0.8/30",
      "198.19.0.12/30",
    ]);
    expect(plan.edges[3]!.ends.map((x) => x.address)).toEqual(["198.19.0.13", "198.19.0.14"]);
  });
});

describe("topology files are hostile input", () => {
  const bad: [string, unknown][] = [
    ["not an object", [1, 2]],
    ["unknown field", { hosts: ["a"], extra: 1 }],
    ["bad name", { hosts: ["a;rm -rf /"] }],
    ["name too long", { hosts: ["a".repeat(40)] }],
    ["duplicate", { hosts: ["a", "a"] }],
    ["link to nowhere", { hosts: ["a"], links: [["a", "b"]] }],
    ["self link", { hosts: ["a"], links: [["a", "a"]] }],
    [
      "duplicate link",
      {
        hosts: ["a", "b"],
        links: [
          ["a", "b"],
          ["b", "a"],
        ],
      },
    ],
    ["gateway not a router", { hosts: ["a", { name: "b", gateway: "a" }], links: [["a", "b"]] }],
    ["gateway not adjacent", { hosts: [{ name: "b", gateway: "r" }], routers: [{ name: "r" }] }],
    ["nat without wan", { hosts: ["a"], routers: [{ name: "r", nat: true }], links: [["a", "r"]] }],
    [
      "nat wan elsewhere",
      { hosts: ["a", "b"], routers: [{ name: "r", nat: true, wan: "b" }], links: [["a", "r"]] },
    ],
    [
      "nat bad mode",
      { hosts: ["a"], routers: [{ name: "r", nat: "full-cone", wan: "a" }], links: [["a", "r"]] },
    ],
    ["segment member unknown", { hosts: ["a"], segments: [{ name: "s", members: ["a", "z"] }] }],
    ["segment repeats member", { hosts: ["a"], segments: [{ name: "s", members: ["a", "a"] }] }],
    ["no hosts", { hosts: [] }],
    ["hosts not array", { hosts: "a" }],
  ];
  for (const [what, doc] of bad) {
    test(`rejects: ${what}`, () => {
      expect(() => checkTopology("t", doc)).toThrow(TopologyError);
    });
  }

  test("accepts a routed NAT topology over a link", () => {
    const t = checkTopology("t", {
      hosts: [{ name: "a", gateway: "r" }, "up"],
      routers: [{ name: "r", nat: "symmetric", wan: "up" }],
      segments: [{ name: "lan", members: ["r", "a"] }],
      links: [{ a: "r", b: "up" }],
    });
    const plan = makePlan(t, "vn2");
    expect(plan.nodes.find((n) => n.name === "r")?.nat).toEqual({ mode: "symmetric", wanIf: "vn2-0a" });
  });

  test("unknown built-in names and unreadable files are TopologyErrors", () => {
    expect(() => loadTopology("mesh9")).toThrow(TopologyError);
    expect(() => loadTopology("/nonexistent/topo.json")).toThrow(TopologyError);
    expect(() => loadTopology("random:1")).toThrow(TopologyError);
  });
});
