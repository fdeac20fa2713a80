import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * Where a webhook may go (SPEC §9, issue 18 "Bad input"): https to a public address. With
 * WEBHOOKS_ALLOW_LOCAL=on (development and tests) also http to a loopback host, and hosts
 * that resolve to private, loopback or link-local addresses. Checked when an endpoint is
 * created or changed (answering 400 naming `url`), and again on every delivery, at
 * connect time, through `guardedLookup` (DNS can change between the two; the address
 * checked is the one connected to).
 */

/** Addresses a webhook may not reach unless local ones are allowed. */
const PRIVATE = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64 (maps IPv4, private ones included)
] as const) {
  PRIVATE.addSubnet(network, prefix, 'ipv6');
}

/** True for an address a webhook may not reach by default (IPv4-mapped IPv6 checked as IPv4). */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) {
    return PRIVATE.check(mapped[1], 'ipv4');
  }
  const family = isIP(address);
  if (family === 0) {
    return true;
  }
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export class UrlRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UrlRefused';
  }
}

/** The URL's syntax and scheme (no DNS): the reason it is refused, or the parsed URL. */
export function checkUrlSyntax(raw: string, allowLocal: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefused('must be an absolute URL');
  }
  if (url.username !== '' || url.password !== '') {
    throw new UrlRefused('must not carry credentials');
  }
  if (url.protocol === 'http:') {
    if (!allowLocal || !isLoopbackHost(url.hostname)) {
      throw new UrlRefused(allowLocal ? 'must be https (http only on a loopback host)' : 'must be https');
    }
  } else if (url.protocol !== 'https:') {
    throw new UrlRefused('must be https');
  }
  return url;
}

function resolveAll(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses)));
  });
}

/**
 * The full check at creation: syntax, then every address the host resolves to (a host
 * with one public and one private address is refused: a client may connect to either).
 */
export async function checkEndpointUrl(raw: string, allowLocal: boolean): Promise<URL> {
  const url = checkUrlSyntax(raw, allowLocal);
  if (allowLocal) {
    return url;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) !== 0) {
    if (isPrivateAddress(host)) {
      throw new UrlRefused('points at a private, loopback or link-local address');
    }
    return url;
  }
  let addresses: LookupAddress[];
  try {
    addresses = await resolveAll(host);
  } catch {
    throw new UrlRefused(`host ${host} does not resolve`);
  }
  if (addresses.length === 0 || addresses.some((a) => isPrivateAddress(a.address))) {
    throw new UrlRefused(`host ${host} resolves to a private, loopback or link-local address`);
  }
  return url;
}

/**
 * A `lookup` for http.request that refuses private addresses at connect time (the check
 * at delivery). IP-literal hosts never reach a lookup; `checkDeliveryTarget` covers them.
 */
export function guardedLookup(allowLocal: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) {
        callback(error, '', 4);
        return;
      }
      const list = addresses;
      const refused = allowLocal ? undefined : list.find((a) => isPrivateAddress(a.address));
      if (refused !== undefined || list.length === 0) {
        callback(new UrlRefused(`host ${hostname} resolves to a private, loopback or link-local address (${refused?.address ?? 'none'})`), '', 4);
        return;
      }
      if (options.all === true) {
        callback(null, list);
      } else {
        const first = list[0] as LookupAddress;
        callback(null, first.address, first.family);
      }
    });
  };
}

/** The delivery-time check that needs no DNS: scheme, and IP-literal hosts. */
export function checkDeliveryTarget(url: URL, allowLocal: boolean): void {
  checkUrlSyntax(url.href, allowLocal);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (!allowLocal && isIP(host) !== 0 && isPrivateAddress(host)) {
    throw new UrlRefused('points at a private, loopback or link-local address');
  }
}
