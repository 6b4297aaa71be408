import type { LookupAddress } from "node:dns";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigurationError, DeliveryError } from "../src/core/errors.js";
import { EgressPolicy } from "../src/transport/egress-guard.js";

// Pure decisions plus a lookup on names that never leave the machine: "localhost"
// (answered from /etc/hosts) and IP literals (answered by node:dns without a query).

const policy = new EgressPolicy();

/** [refused range, addresses inside it, addresses just outside it that no other range covers] */
const RANGES: Array<[string, string[], string[]]> = [
  ["0.0.0.0/8", ["0.0.0.0", "0.0.0.1", "0.255.255.255"], ["1.0.0.0"]],
  ["10.0.0.0/8", ["10.0.0.0", "10.0.0.1", "10.255.255.255"], ["9.255.255.255", "11.0.0.0"]],
  ["100.64.0.0/10", ["100.64.0.0", "100.100.100.100", "100.127.255.255"], ["100.63.255.255", "100.128.0.0"]],
  ["127.0.0.0/8", ["127.0.0.0", "127.0.0.1", "127.255.255.255"], ["126.255.255.255", "128.0.0.0"]],
  ["169.254.0.0/16", ["169.254.0.0", "169.254.169.254", "169.254.255.255"], ["169.253.255.255", "169.255.0.0"]],
  ["172.16.0.0/12", ["172.16.0.0", "172.20.1.1", "172.31.255.255"], ["172.15.255.255", "172.32.0.0"]],
  ["192.0.0.0/24", ["192.0.0.0", "192.0.0.170", "192.0.0.255"], ["192.0.1.0"]],
  ["192.0.2.0/24", ["192.0.2.0", "192.0.2.1", "192.0.2.255"], ["192.0.1.255", "192.0.3.0"]],
  ["192.88.99.0/24", ["192.88.99.0", "192.88.99.1", "192.88.99.255"], ["192.88.98.255", "192.88.100.0"]],
  ["192.168.0.0/16", ["192.168.0.0", "192.168.1.1", "192.168.255.255"], ["192.167.255.255", "192.169.0.0"]],
  ["198.18.0.0/15", ["198.18.0.0", "198.19.255.255"], ["198.17.255.255", "198.20.0.0"]],
  ["198.51.100.0/24", ["198.51.100.0", "198.51.100.7", "198.51.100.255"], ["198.51.99.255", "198.51.101.0"]],
  ["203.0.113.0/24", ["203.0.113.0", "203.0.113.9", "203.0.113.255"], ["203.0.112.255", "203.0.114.0"]],
  ["224.0.0.0/4", ["224.0.0.0", "224.0.0.251", "239.255.255.255"], ["223.255.255.255"]],
  ["240.0.0.0/4", ["240.0.0.0", "250.1.2.3", "255.255.255.254"], []],
  ["::/128", ["::", "0:0:0:0:0:0:0:0"], []],
  ["::1/128", ["::1", "0:0:0:0:0:0:0:1"], []],
  [
    "fc00::/7",
    ["fc00::", "fc00::1", "fd12:3456:789a::1", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
    ["fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
  ],
  [
    "fe80::/10",
    ["fe80::", "fe80::1", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
    ["fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff"],
  ],
  ["ff00::/8", ["ff00::", "ff02::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"], []],
  [
    "2001:db8::/32",
    ["2001:db8::", "2001:db8::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"],
    ["2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::"],
  ],
  // NAT64 is refused whole, even when it carries a public IPv4 address.
  [
    "64:ff9b::/96",
    ["64:ff9b::", "64:ff9b::a00:1", "64:ff9b::808:808", "64:ff9b::ffff:ffff"],
    ["64:ff9b::1:0:0", "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff"],
  ],
];

describe("EgressPolicy.refusedRange: every range in DESIGN.md", () => {
  for (const [range, inside, outside] of RANGES) {
    it.each(inside)(`refuses %s (in ${range})`, (ip) => {
      expect(policy.refusedRange(ip)).toBe(range);
    });
    if (outside.length > 0) {
      it.each(outside)(`allows %s (just outside ${range})`, (ip) => {
        expect(policy.refusedRange(ip)).toBeNull();
      });
    }
  }

  it("refuses the broadcast address 255.255.255.255", () => {
    // 240.0.0.0/4 already covers it; either name is a correct answer, null is not.
    expect(["240.0.0.0/4", "255.255.255.255/32"]).toContain(policy.refusedRange("255.255.255.255"));
  });

  it.each(["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::1"])(
    "allows the public address %s",
    (ip) => {
      expect(policy.refusedRange(ip)).toBeNull();
    },
  );

  it.each(["", "not-an-ip", "localhost", "256.0.0.1", "1.2.3.4.5", "::g", "[::1]"])(
    "refuses %j, which is not an address at all",
    (text) => {
      expect(policy.refusedRange(text)).not.toBeNull();
    },
  );

  it("judges an address with an IPv6 zone by the address", () => {
    expect(policy.refusedRange("fe80::1%eth0")).toBe("fe80::/10");
  });
});

describe("EgressPolicy.refusedRange: IPv6 forms that carry an IPv4 address", () => {
  it.each([
    ["::ffff:10.0.0.1", "10.0.0.0/8"],
    ["::ffff:a00:1", "10.0.0.0/8"],
    ["::ffff:127.0.0.1", "127.0.0.0/8"],
    ["::ffff:7f00:1", "127.0.0.0/8"],
    ["::ffff:169.254.169.254", "169.254.0.0/16"],
    ["::ffff:192.168.1.1", "192.168.0.0/16"],
    ["::ffff:0.0.0.0", "0.0.0.0/8"],
    ["0:0:0:0:0:ffff:ac10:1", "172.16.0.0/12"],
  ])("IPv4-mapped %s is refused as %s", (ip, range) => {
    expect(policy.refusedRange(ip)).toBe(range);
  });

  it.each(["::ffff:8.8.8.8", "::ffff:808:808", "::ffff:1.1.1.1"])(
    "IPv4-mapped %s of a public address is allowed",
    (ip) => {
      expect(policy.refusedRange(ip)).toBeNull();
    },
  );

  it.each([
    ["2002:0a00:0001::", "10.0.0.0/8"],
    ["2002:a00:1::1", "10.0.0.0/8"],
    ["2002:7f00:0001::", "127.0.0.0/8"],
    ["2002:a9fe:a9fe::", "169.254.0.0/16"],
    ["2002:c0a8:0101:1::1", "192.168.0.0/16"],
  ])("6to4 %s is refused as %s", (ip, range) => {
    expect(policy.refusedRange(ip)).toBe(range);
  });

  it.each(["2002:0808:0808::", "2002:808:808::1", "2002:0101:0101::"])(
    "6to4 %s of a public address is allowed",
    (ip) => {
      expect(policy.refusedRange(ip)).toBeNull();
    },
  );

  it.each([
    ["::127.0.0.1", "127.0.0.0/8"],
    ["::a00:1", "10.0.0.0/8"],
  ])("IPv4-compatible %s is refused as %s", (ip, range) => {
    expect(policy.refusedRange(ip)).toBe(range);
  });
});

describe("EgressPolicy options", () => {
  it("allowPrivateNetworks: true allows everything", () => {
    const open = new EgressPolicy({ allowPrivateNetworks: true });
    for (const ip of [
      "127.0.0.1",
      "10.0.0.1",
      "169.254.169.254",
      "::1",
      "fc00::1",
      "::ffff:10.0.0.1",
      "2002:a00:1::",
    ]) {
      expect(open.refusedRange(ip)).toBeNull();
    }
    expect(open.allowPrivateNetworks).toBe(true);
    expect(policy.allowPrivateNetworks).toBe(false);
  });

  it("only a literal true lifts the guard", () => {
    const truthy = new EgressPolicy({ allowPrivateNetworks: "yes" as unknown as boolean });
    expect(truthy.refusedRange("127.0.0.1")).toBe("127.0.0.0/8");
  });

  it("allowedCidrs lifts exactly the listed ranges", () => {
    const partial = new EgressPolicy({ allowedCidrs: ["10.1.0.0/16", "fd00::/8"] });
    expect(partial.refusedRange("10.1.2.3")).toBeNull();
    expect(partial.refusedRange("10.1.255.255")).toBeNull();
    expect(partial.refusedRange("10.2.0.1")).toBe("10.0.0.0/8");
    expect(partial.refusedRange("10.0.255.255")).toBe("10.0.0.0/8");
    expect(partial.refusedRange("127.0.0.1")).toBe("127.0.0.0/8");
    // The IPv4 address inside a mapped or 6to4 form is matched against the allow-list too.
    expect(partial.refusedRange("::ffff:10.1.2.3")).toBeNull();
    expect(partial.refusedRange("2002:a01:203::")).toBeNull();
    expect(partial.refusedRange("::ffff:10.2.0.1")).toBe("10.0.0.0/8");
    expect(partial.refusedRange("fd00::1")).toBeNull();
    expect(partial.refusedRange("fc00::1")).toBe("fc00::/7");
  });

  it('allowedCidrs: ["127.0.0.0/8"] allows loopback and nothing else', () => {
    const loopback = new EgressPolicy({ allowedCidrs: ["127.0.0.0/8"] });
    expect(loopback.refusedRange("127.0.0.1")).toBeNull();
    expect(loopback.refusedRange("127.255.0.9")).toBeNull();
    expect(loopback.refusedRange("::ffff:127.0.0.1")).toBeNull();
    expect(loopback.refusedRange("10.0.0.1")).toBe("10.0.0.0/8");
    expect(loopback.refusedRange("169.254.169.254")).toBe("169.254.0.0/16");
    expect(loopback.refusedRange("::1")).toBe("::1/128");
  });

  it.each([["10.0.0.0/33"], ["not-a-cidr"], ["10.0.0.1"], [""], ["::1/129"], ["10.0.0.0/-1"], ["300.0.0.0/8"]])(
    "an invalid CIDR %j is a ConfigurationError at construction",
    (cidr) => {
      let thrown: unknown;
      try {
        new EgressPolicy({ allowedCidrs: ["127.0.0.0/8", cidr] });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigurationError);
      expect((thrown as ConfigurationError).code).toBe("HOOKLINE_CONFIGURATION_INVALID");
      expect((thrown as ConfigurationError).message).toContain(JSON.stringify(cidr));
    },
  );

  it("allowedCidrs that is not an array is a ConfigurationError", () => {
    expect(() => new EgressPolicy({ allowedCidrs: "10.0.0.0/8" as unknown as string[] })).toThrow(ConfigurationError);
  });
});

describe("EgressPolicy.assertAllowed", () => {
  it("throws a DeliveryError that names the address, the host and both ways out", () => {
    let thrown: unknown;
    try {
      policy.assertAllowed("169.254.169.254", "metadata.internal");
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DeliveryError);
    const error = thrown as DeliveryError;
    expect(error.code).toBe("HOOKLINE_DELIVERY_EGRESS_BLOCKED");
    expect(error.message).toContain("169.254.169.254");
    expect(error.message).toContain("metadata.internal");
    expect(error.message).toContain("169.254.0.0/16");
    expect(error.message).toContain("allowPrivateNetworks");
    expect(error.message).toContain("allowedCidrs");
  });

  it("returns quietly for a public address", () => {
    expect(() => policy.assertAllowed("8.8.8.8", "dns.google")).not.toThrow();
  });
});

type LookupOutcome = { error: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number };

function lookupWith(guard: EgressPolicy, hostname: string, all: boolean): Promise<LookupOutcome> {
  return new Promise((resolve) => {
    const lookup = guard.lookup();
    lookup(hostname, { all }, (error, address, family) => resolve({ error, address, family }));
  });
}

describe("EgressPolicy.lookup", () => {
  it.each([true, false])("refuses localhost (all: %s)", async (all) => {
    const outcome = await lookupWith(policy, "localhost", all);
    expect(outcome.error).toBeInstanceOf(DeliveryError);
    expect((outcome.error as unknown as DeliveryError).code).toBe("HOOKLINE_DELIVERY_EGRESS_BLOCKED");
    expect(outcome.error?.message).toContain("localhost");
    expect(outcome.error?.message).toContain("allowPrivateNetworks");
    // The callback shape still matches what was asked for.
    expect(outcome.address).toEqual(all ? [] : "");
  });

  it.each([true, false])("refuses a private IP literal (all: %s)", async (all) => {
    const outcome = await lookupWith(policy, "10.0.0.1", all);
    expect((outcome.error as unknown as DeliveryError | null)?.code).toBe("HOOKLINE_DELIVERY_EGRESS_BLOCKED");
  });

  it("answers all: true with every address", async () => {
    const outcome = await lookupWith(policy, "8.8.8.8", true);
    expect(outcome.error).toBeNull();
    expect(outcome.address).toEqual([{ address: "8.8.8.8", family: 4 }]);
  });

  it("answers all: false with one address and its family", async () => {
    const v4 = await lookupWith(policy, "1.1.1.1", false);
    expect(v4).toEqual({ error: null, address: "1.1.1.1", family: 4 });
    const v6 = await lookupWith(policy, "2606:4700:4700::1111", false);
    expect(v6).toEqual({ error: null, address: "2606:4700:4700::1111", family: 6 });
  });

  it.each([true, false])("lets localhost through when private networks are allowed (all: %s)", async (all) => {
    const outcome = await lookupWith(new EgressPolicy({ allowPrivateNetworks: true }), "localhost", all);
    expect(outcome.error).toBeNull();
    if (all) {
      expect(Array.isArray(outcome.address)).toBe(true);
      const addresses = outcome.address as LookupAddress[];
      expect(addresses.length).toBeGreaterThan(0);
      for (const { address } of addresses) expect(["127.0.0.1", "::1"]).toContain(address);
    } else {
      expect(["127.0.0.1", "::1"]).toContain(outcome.address);
      expect([4, 6]).toContain(outcome.family);
    }
  });
});

describe("EgressPolicy: properties", () => {
  const octet = fc.integer({ min: 0, max: 255 });

  it("every IPv4 address in 10.0.0.0/8 and 192.168.0.0/16 is refused, in plain, mapped and 6to4 form", () => {
    const privateAddress = fc.oneof(
      fc.tuple(octet, octet, octet).map(([b, c, d]) => [10, b, c, d]),
      fc.tuple(octet, octet).map(([c, d]) => [192, 168, c, d]),
    );
    fc.assert(
      fc.property(privateAddress, (octets) => {
        const [a = 0, b = 0, c = 0, d = 0] = octets;
        const expected = a === 10 ? "10.0.0.0/8" : "192.168.0.0/16";
        const hex = (high: number, low: number) => ((high << 8) | low).toString(16);
        expect(policy.refusedRange(octets.join("."))).toBe(expected);
        expect(policy.refusedRange(`::ffff:${octets.join(".")}`)).toBe(expected);
        expect(policy.refusedRange(`2002:${hex(a, b)}:${hex(c, d)}::1`)).toBe(expected);
      }),
    );
  });

  it("an IPv4-mapped address is judged exactly like the IPv4 address it carries", () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(policy.refusedRange(`::ffff:${ip}`)).toBe(policy.refusedRange(ip));
      }),
    );
  });
});
