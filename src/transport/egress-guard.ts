import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from "node:dns";
import type { LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";
import { ConfigurationError, DeliveryError } from "../core/errors.js";

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type Cidr = [Address, number];

// Destinations a webhook must never reach unless the operator says so: the
// machine itself, private networks, cloud metadata, and ranges that are not
// routable on the public internet.
const REFUSED_V4: readonly string[] = [
  "0.0.0.0/8",
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.88.99.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "255.255.255.255/32",
];
const REFUSED_V6: readonly string[] = [
  "::/128",
  "::1/128",
  "fc00::/7",
  "fe80::/10",
  "ff00::/8",
  "2001:db8::/32",
  "64:ff9b::/96",
];

function parseCidrs(list: readonly string[]): Array<{ text: string; cidr: Cidr }> {
  return list.map((text) => ({ text, cidr: ipaddr.parseCIDR(text) as Cidr }));
}
const REFUSED_V4_CIDRS = parseCidrs(REFUSED_V4);
const REFUSED_V6_CIDRS = parseCidrs(REFUSED_V6);

/** How the egress guard decides; built once from the transport's options. */
export interface EgressPolicyOptions {
  /** Lift the guard entirely (local development, tests). */
  allowPrivateNetworks?: boolean;
  /** CIDRs that are allowed even though they fall in a refused range, e.g. `["10.1.0.0/16"]`. */
  allowedCidrs?: readonly string[];
}

/**
 * The egress guard: decides whether an IP address may be a webhook
 * destination. Refused ranges come from DESIGN.md; IPv4-mapped, IPv4-compatible
 * and 6to4 IPv6 forms are judged by the IPv4 address they carry.
 */
export class EgressPolicy {
  readonly allowPrivateNetworks: boolean;
  readonly #allowed: Array<{ text: string; cidr: Cidr }>;

  constructor(options: EgressPolicyOptions = {}) {
    this.allowPrivateNetworks = options.allowPrivateNetworks === true;
    const allowed = options.allowedCidrs ?? [];
    if (!Array.isArray(allowed)) {
      throw new ConfigurationError("HOOKLINE_CONFIGURATION_INVALID", "allowedCidrs must be an array of CIDR strings");
    }
    this.#allowed = allowed.map((text) => {
      try {
        return { text, cidr: ipaddr.parseCIDR(text) as Cidr };
      } catch (error) {
        throw new ConfigurationError(
          "HOOKLINE_CONFIGURATION_INVALID",
          `allowedCidrs: ${JSON.stringify(text)} is not a CIDR`,
          {
            cause: error,
          },
        );
      }
    });
  }

  /** The refused range `ip` falls in, or null when it may be contacted. `ip` must be a literal address. */
  refusedRange(ip: string): string | null {
    if (this.allowPrivateNetworks) return null;
    let address: Address;
    try {
      address = ipaddr.parse(ip);
    } catch {
      return "an unparsable address";
    }
    const forms = [address];
    const embedded = embeddedIPv4(address);
    if (embedded) forms.push(embedded);
    for (const form of forms) {
      if (this.#allowed.some(({ cidr }) => form.kind() === cidr[0].kind() && form.match(cidr))) return null;
    }
    for (const form of forms) {
      const list = form.kind() === "ipv4" ? REFUSED_V4_CIDRS : REFUSED_V6_CIDRS;
      const hit = list.find(({ cidr }) => form.match(cidr));
      if (hit) return hit.text;
    }
    return null;
  }

  /** Throws the guard's DeliveryError when `ip` is refused. */
  assertAllowed(ip: string, host: string): void {
    const range = this.refusedRange(ip);
    if (range !== null) throw egressError(ip, host, range);
  }

  /**
   * A `lookup` for `net.connect` that resolves the host name and refuses the
   * connection if any resolved address is refused. Checking at connect time,
   * on the addresses actually dialled, is what keeps DNS rebinding out.
   */
  lookup(): LookupFunction {
    return (hostname, options, callback) => {
      const all = (options as LookupAllOptions).all === true;
      dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
        if (error) {
          callback(error, all ? [] : "", 0);
          return;
        }
        for (const { address } of addresses) {
          const range = this.refusedRange(address);
          if (range !== null) {
            callback(egressError(address, hostname, range), all ? [] : "", 0);
            return;
          }
        }
        if (all) {
          (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
          return;
        }
        const first = addresses[0];
        if (!first) {
          callback(Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }), "", 0);
          return;
        }
        callback(null, first.address, first.family);
      });
    };
  }
}

function embeddedIPv4(address: Address): ipaddr.IPv4 | null {
  if (address.kind() !== "ipv6") return null;
  const v6 = address as ipaddr.IPv6;
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address();
  const parts = v6.parts;
  // IPv4-compatible (::a.b.c.d, deprecated) — but not :: and ::1 themselves.
  if (parts.slice(0, 6).every((p) => p === 0) && (parts[6] !== 0 || (parts[7] ?? 0) > 1)) {
    return ipv4FromWords(parts[6] ?? 0, parts[7] ?? 0);
  }
  // 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
  if (parts[0] === 0x2002) return ipv4FromWords(parts[1] ?? 0, parts[2] ?? 0);
  return null;
}

function ipv4FromWords(high: number, low: number): ipaddr.IPv4 {
  return new ipaddr.IPv4([high >> 8, high & 0xff, low >> 8, low & 0xff]);
}

function egressError(ip: string, host: string, range: string): DeliveryError {
  const where = host === ip ? ip : `${host} (${ip})`;
  const allowRange = range.includes("/") ? range : `${ip}/${ip.includes(":") ? 128 : 32}`;
  return new DeliveryError(
    "HOOKLINE_DELIVERY_EGRESS_BLOCKED",
    `egress guard refused ${where}: ${range} is not a public address. ` +
      `To deliver there, use new HttpTransport({ allowPrivateNetworks: true }) ` +
      `or allow the range with new HttpTransport({ allowedCidrs: ["${allowRange}"] })`,
  );
}
