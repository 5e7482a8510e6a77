/**
 * The egress policy on its own: which names and ports an allowlist entry
 * admits, how hosts are canonicalized (case, trailing dot, IDN, numeric
 * tricks), and which resolved addresses count as internal. The proxy that
 * applies it is tested with real sockets in egress-proxy.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalHost, classifyAddress, EgressPolicy, parseAllowEntry, parseAuthority, unwrapMapped } from '../src/sandbox/egress-policy.ts';

describe('egress policy: host names', () => {
  it('canonicalizes case, a trailing dot and IDN labels to one ASCII form', () => {
    assert.equal(canonicalHost('Example.COM'), 'example.com');
    assert.equal(canonicalHost('example.com.'), 'example.com');
    assert.equal(canonicalHost('Bücher.de'), 'xn--bcher-kva.de');
    assert.equal(canonicalHost('xn--bcher-kva.de'), 'xn--bcher-kva.de');
    assert.equal(canonicalHost('example。com'), 'example.com', 'an ideographic full stop is a dot in IDNA');
    assert.equal(canonicalHost('my_bucket.s3.example.com'), 'my_bucket.s3.example.com');
    assert.equal(canonicalHost('203.0.113.7'), '203.0.113.7');
    assert.equal(canonicalHost('[2001:DB8:0:0::1]'), '2001:db8::1');
    assert.equal(canonicalHost('::FFFF:127.0.0.1'), '::ffff:7f00:1');
  });

  it('refuses hosts with odd characters and numeric forms a resolver would read as an IP', () => {
    for (const raw of ['', 'exa mple.com', 'example.com%00', 'exa%6dple.com', 'a..b', '.example.com', 'user@example.com', 'example.com/x',
      '-bad.example.com', 'bad-.example.com', 'a'.repeat(64) + '.com', 'example.123',
      '0x7f.1', '2130706433', '127.1', '0177.0.0.1', '１２７.0.0.1', '[fe80::1%25eth0]', 'fe80::1%eth0', '[example.com]', 'example.com:443']) {
      assert.equal(canonicalHost(raw), undefined, `${JSON.stringify(raw)} was accepted as ${canonicalHost(raw)}`);
    }
  });

  it('parses CONNECT targets only with a valid port', () => {
    assert.deepEqual(parseAuthority('Example.com:443'), { host: 'example.com', port: 443 });
    assert.deepEqual(parseAuthority('[::1]:8443'), { host: '::1', port: 8443 });
    for (const raw of ['example.com', 'example.com:', 'example.com:0', 'example.com:65536', 'example.com:+443', 'example.com:44 3', '::1:443', 'http://example.com:443', ':443']) {
      assert.equal(parseAuthority(raw), undefined, raw);
    }
  });
});

describe('egress policy: allowlist entries', () => {
  it('parses host, wildcard, port and IP entries', () => {
    assert.deepEqual(parseAllowEntry('Example.com'), { kind: 'host', host: 'example.com', port: undefined });
    assert.deepEqual(parseAllowEntry(' *.Example.com. '), { kind: 'wildcard', host: 'example.com', port: undefined });
    assert.deepEqual(parseAllowEntry('example.com:8443'), { kind: 'host', host: 'example.com', port: 8443 });
    assert.deepEqual(parseAllowEntry('203.0.113.7'), { kind: 'ip', host: '203.0.113.7', port: undefined });
    assert.deepEqual(parseAllowEntry('[2001:db8::1]:8443'), { kind: 'ip', host: '2001:db8::1', port: 8443 });
    assert.deepEqual(parseAllowEntry('2001:db8::1'), { kind: 'ip', host: '2001:db8::1', port: undefined });
    for (const raw of ['', '*', '*.', '*.1.2.3.4', 'example.com:0', 'example.com:99999', 'http://example.com', 'example.com/path', '**.example.com', 'ex ample.com']) {
      assert.equal(parseAllowEntry(raw), undefined, raw);
    }
  });

  it('matches an exact host on ports 80 and 443 only, unless the entry names a port', () => {
    const policy = new EgressPolicy({ allow: ['example.com', 'api.example.org:8443'] });
    assert.equal(policy.allows('example.com', 443), true);
    assert.equal(policy.allows('example.com', 80), true);
    assert.equal(policy.allows('example.com', 8080), false);
    assert.equal(policy.allows('www.example.com', 443), false, 'an exact entry does not cover subdomains');
    assert.equal(policy.allows('api.example.org', 8443), true);
    assert.equal(policy.allows('api.example.org', 443), false, 'a named port replaces the default ports');
    assert.equal(policy.allows('example.com.evil.test', 443), false);
    assert.equal(policy.allows('evilexample.com', 443), false);
  });

  it('matches a wildcard on subdomains at any depth but not the apex', () => {
    const policy = new EgressPolicy({ allow: ['*.example.com'] });
    assert.equal(policy.allows('a.example.com', 443), true);
    assert.equal(policy.allows('a.b.example.com', 80), true);
    assert.equal(policy.allows('example.com', 443), false);
    assert.equal(policy.allows('badexample.com', 443), false);
    assert.equal(new EgressPolicy({ allow: ['*.example.com', 'example.com'] }).allows('example.com', 443), true, 'the apex when listed too');
  });

  it('matches IP literals only when that IP is listed, never through a name or wildcard', () => {
    const policy = new EgressPolicy({ allow: ['203.0.113.7', '*.example.com', '[2001:db8::1]:8443'] });
    assert.equal(policy.allows('203.0.113.7', 443), true);
    assert.equal(policy.allows('203.0.113.8', 443), false);
    assert.equal(policy.allows('2001:db8::1', 8443), true);
    assert.equal(policy.allows('2001:db8::1', 443), false);
    assert.equal(policy.allows('113.7', 443), false);
  });

  it('treats an IDN entry and its punycode form as the same host', () => {
    const policy = new EgressPolicy({ allow: ['Bücher.de'] });
    assert.equal(policy.allows(canonicalHost('bücher.de')!, 443), true);
    assert.equal(policy.allows('xn--bcher-kva.de', 443), true);
  });

  it('reads the conversation list on every decision and skips its invalid entries', () => {
    const list: string[] = ['not a host!'];
    const policy = new EgressPolicy({ conversation: () => list });
    assert.equal(policy.allows('example.com', 443), false);
    list.push('example.com');
    assert.equal(policy.allows('example.com', 443), true);
    list.length = 0;
    assert.equal(policy.allows('example.com', 443), false);
  });

  it('rejects an invalid global entry or CIDR at start-up with a message naming it', () => {
    assert.throws(() => new EgressPolicy({ allow: ['https://example.com'] }), /egress\.allow: "https:\/\/example\.com"/);
    assert.throws(() => new EgressPolicy({ allowPrivate: ['10.0.0.0/33'] }), /egress\.allowPrivate: "10\.0\.0\.0\/33"/);
    assert.throws(() => new EgressPolicy({ allowPrivate: ['intranet'] }), /egress\.allowPrivate/);
  });
});

describe('egress policy: resolved addresses', () => {
  it('classifies loopback, private, link-local, multicast, unspecified and reserved addresses', () => {
    const cases: Array<[string, string | undefined]> = [
      ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['::1', 'loopback'],
      ['10.0.0.1', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'],
      ['100.64.0.1', 'private'], ['100.127.255.255', 'private'], ['fd00::1', 'private'], ['fc00::1', 'private'],
      ['169.254.169.254', 'link-local'], ['fe80::1', 'link-local'],
      ['224.0.0.1', 'multicast'], ['ff02::1', 'multicast'],
      ['0.0.0.0', 'unspecified'], ['::', 'unspecified'],
      ['255.255.255.255', 'reserved'], ['192.0.2.1', 'reserved'], ['2001:db8::1', 'reserved'],
      ['::ffff:127.0.0.1', 'loopback'], ['::ffff:a9fe:a9fe', 'link-local'], ['::ffff:10.1.2.3', 'private'],
      ['64:ff9b::a00:1', 'private'], ['2002:7f00:1::', 'loopback'],
      ['8.8.8.8', undefined], ['1.1.1.1', undefined], ['172.32.0.1', undefined], ['100.128.0.1', undefined],
      ['2606:4700:4700::1111', undefined], ['::ffff:8.8.8.8', undefined], ['64:ff9b::808:808', undefined],
      ['not-an-ip', 'unparsable'],
    ];
    for (const [ip, kind] of cases) assert.equal(classifyAddress(ip), kind, ip);
  });

  it('lets allowPrivate open exactly the listed ranges, also in IPv4-mapped form', () => {
    const policy = new EgressPolicy({ allowPrivate: ['127.0.0.1/32', '10.1.0.0/16', 'fd00::/64'] });
    assert.equal(policy.refusedAddress('127.0.0.1'), undefined);
    assert.equal(policy.refusedAddress('::ffff:127.0.0.1'), undefined);
    assert.equal(policy.refusedAddress('127.0.0.2'), 'loopback');
    assert.equal(policy.refusedAddress('10.1.200.3'), undefined);
    assert.equal(policy.refusedAddress('10.2.0.1'), 'private');
    assert.equal(policy.refusedAddress('fd00::9'), undefined);
    assert.equal(policy.refusedAddress('fd00:1::9'), 'private');
    assert.equal(policy.refusedAddress('169.254.169.254'), 'link-local');
    assert.equal(policy.refusedAddress('8.8.8.8'), undefined);
    assert.equal(new EgressPolicy().refusedAddress('::1'), 'loopback');
  });

  it('unwraps an IPv4-mapped address to the IPv4 address it reaches', () => {
    assert.equal(unwrapMapped('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(unwrapMapped('::ffff:7f00:1'), '127.0.0.1');
    assert.equal(unwrapMapped('2001:db8::1'), '2001:db8::1');
    assert.equal(unwrapMapped('8.8.8.8'), '8.8.8.8');
  });
});
