import {
  callParams,
  decodeMethodCall,
  decodeMethodResponse,
  encodeFault,
  encodeMethodCall,
  encodeMethodResponse,
  KojiFault,
  multicallParams,
  multicallResults,
  parseDateTime,
  splitKwargs,
  XmlRpcDouble,
  XmlRpcProtocolError,
  type XmlRpcValue,
} from '../../../backend/koji/xmlrpc';

function roundTripResponse(v: XmlRpcValue): XmlRpcValue {
  const decoded = decodeMethodResponse(encodeMethodResponse(v));
  if (decoded.kind !== 'result') throw new Error('expected a result');
  return decoded.value;
}

/** What Python's xmlrpc.client (with Koji's i8 and allow_none) writes for a listTaggedRPMS answer. */
const PYTHON_RESPONSE = `<?xml version='1.0'?>
<methodResponse>
<params>
<param>
<value><array><data>
<value><array><data>
<value><struct>
<member>
<name>name</name>
<value><string>bash</string></value>
</member>
<member>
<name>epoch</name>
<value><nil/></value>
</member>
<member>
<name>id</name>
<value><int>12</int></value>
</member>
<member>
<name>size</name>
<value><i8>5368709120</i8></value>
</member>
<member>
<name>metadata_only</name>
<value><boolean>0</boolean></value>
</member>
<member>
<name>ts</name>
<value><double>1795219058.170525</double></value>
</member>
<member>
<name>summary</name>
<value>a bare string &amp; &lt;markup&gt;</value>
</member>
</struct></value>
</data></array></value>
<value><array><data>
</data></array></value>
</data></array></value>
</param>
</params>
</methodResponse>
`;

describe('XML-RPC decoding', () => {
  it('reads what Python/Koji writes: nil, i8, booleans, doubles, bare strings, nesting', () => {
    const r = decodeMethodResponse(PYTHON_RESPONSE);
    expect(r).toEqual({
      kind: 'result',
      value: [
        [
          {
            name: 'bash',
            epoch: null,
            id: 12,
            size: 5368709120,
            metadata_only: false,
            ts: 1795219058.170525,
            summary: 'a bare string & <markup>',
          },
        ],
        [],
      ],
    });
  });

  it('decodes 64-bit integers as numbers while safe and as bigints beyond', () => {
    const doc = (t: string, v: string): string =>
      `<?xml version="1.0"?><methodResponse><params><param><value><${t}>${v}</${t}></value></param></params></methodResponse>`;
    const value = (xml: string): XmlRpcValue => {
      const r = decodeMethodResponse(xml);
      return r.kind === 'result' ? r.value : null;
    };
    expect(value(doc('i8', '9007199254740991'))).toBe(9007199254740991);
    expect(value(doc('i8', '9007199254740993'))).toBe(9007199254740993n);
    expect(value(doc('i8', '-9223372036854775808'))).toBe(-9223372036854775808n);
    expect(value(doc('int', ' 42 '))).toBe(42);
    expect(value(doc('i4', '-7'))).toBe(-7);
    expect(() => value(doc('int', '4x'))).toThrow(XmlRpcProtocolError);
  });

  it('reads the empty and namespaced forms', () => {
    const xml = `<?xml version="1.0"?>
<methodResponse xmlns:ex="http://ws.apache.org/xmlrpc/namespaces/extensions"><params><param><value><array><data>
<value></value><value/><value><string/></value><value>  spaced  </value><value><ex:nil/></value>
<value><struct></struct></value><value><base64>aGVsbG8=
</base64></value><value><dateTime.iso8601>20261120T22:44:32</dateTime.iso8601></value>
<value><double>inf</double></value><value><boolean>true</boolean></value>
</data></array></value></param></params></methodResponse>`;
    const r = decodeMethodResponse(xml);
    if (r.kind !== 'result' || !Array.isArray(r.value)) throw new Error('expected an array');
    const [a, b, c, d, e, f, g, h, i, j] = r.value;
    expect([a, b, c, d, e, f]).toEqual(['', '', '', '  spaced  ', null, {}]);
    expect(Buffer.from(g as Uint8Array).toString()).toBe('hello');
    expect((h as Date).toISOString()).toBe('2026-11-20T22:44:32.000Z');
    expect(i).toBe(Infinity);
    expect(j).toBe(true);
  });

  it('turns a fault into a KojiFault with its code and string', () => {
    const xml = `<?xml version='1.0'?>
<methodResponse>
<fault>
<value><struct>
<member>
<name>faultCode</name>
<value><int>1000</int></value>
</member>
<member>
<name>faultString</name>
<value><string>No such build: 'nope-1-1'</string></value>
</member>
</struct></value>
</fault>
</methodResponse>
`;
    const r = decodeMethodResponse(xml);
    expect(r.kind).toBe('fault');
    if (r.kind !== 'fault') return;
    expect(r.fault).toBeInstanceOf(KojiFault);
    expect(r.fault.faultCode).toBe(1000);
    expect(r.fault.faultString).toBe("No such build: 'nope-1-1'");
    expect(r.fault.message).toBe("No such build: 'nope-1-1'");
    expect(r.fault.retryable).toBe(false);
  });

  it('refuses what is not XML-RPC', () => {
    expect(() => decodeMethodResponse('<html><body>502 Bad Gateway</body></html>')).toThrow(XmlRpcProtocolError);
    expect(() => decodeMethodResponse('<methodResponse><params><param><value><int>1</int>')).toThrow(XmlRpcProtocolError);
    expect(() => decodeMethodResponse('<methodResponse><params><param><value><float>1</float></value></param></params></methodResponse>')).toThrow(
      /unknown XML-RPC element <float>/,
    );
    expect(() => decodeMethodResponse('<methodResponse><params></params></methodResponse>')).toThrow(/0 params/);
  });

  it('parses Python and ISO 8601 date-times (no zone = UTC)', () => {
    expect(parseDateTime('20261120T22:44:32').toISOString()).toBe('2026-11-20T22:44:32.000Z');
    expect(parseDateTime('2026-11-20T22:44:32.250+01:00').toISOString()).toBe('2026-11-20T21:44:32.250Z');
    expect(() => parseDateTime('yesterday')).toThrow(XmlRpcProtocolError);
  });
});

describe('XML-RPC encoding', () => {
  it('round-trips every type, with nil, i8 and doubles kept apart from ints', () => {
    const value: XmlRpcValue = {
      nil: null,
      yes: true,
      no: false,
      small: -2147483648,
      big: 2147483648,
      huge: 9223372036854775807n,
      half: 0.5,
      two: new XmlRpcDouble(2),
      text: 'a & b < c > d\r\n é ✓',
      empty: '',
      when: new Date('2026-11-20T22:44:32Z'),
      bytes: Buffer.from([0, 1, 2, 255]),
      list: [1, 'two', [null], {}],
      nested: { a: { b: [] } },
    };
    const xml = encodeMethodResponse(value);
    expect(xml).toContain('<value><nil/></value>');
    expect(xml).toContain('<value><int>-2147483648</int></value>');
    expect(xml).toContain('<value><i8>2147483648</i8></value>');
    expect(xml).toContain('<value><i8>9223372036854775807</i8></value>');
    expect(xml).toContain('<value><double>2.0</double></value>');
    expect(xml).toContain('<value><dateTime.iso8601>20261120T22:44:32</dateTime.iso8601></value>');
    expect(xml).toContain('a &amp; b &lt; c &gt; d&#13;\n');
    expect(roundTripResponse(value)).toEqual({ ...value, two: 2 });
  });

  it('leaves out undefined struct members and refuses what XML-RPC cannot carry', () => {
    expect(roundTripResponse({ a: 1, b: undefined })).toEqual({ a: 1 });
    expect(() => encodeMethodResponse(2n ** 64n)).toThrow(/64 bits/);
    expect(() => encodeMethodResponse(new Date(NaN))).toThrow(/invalid Date/);
  });

  it('sends keyword arguments as a trailing struct with __starstar, and the server side splits them', () => {
    const params = callParams(['f40-build'], { inherit: true, latest: 1, event: undefined, arch: ['x86_64', 'noarch'] });
    expect(params).toEqual(['f40-build', { inherit: true, latest: 1, arch: ['x86_64', 'noarch'], __starstar: true }]);
    const xml = encodeMethodCall('listTaggedRPMS', params);
    expect(xml).toMatch(/<methodName>listTaggedRPMS<\/methodName>/);
    expect(xml).toContain('<member><name>__starstar</name><value><boolean>1</boolean></value></member>');
    const call = decodeMethodCall(xml);
    expect(call.method).toBe('listTaggedRPMS');
    expect(splitKwargs(call.params)).toEqual({
      args: ['f40-build'],
      kwargs: { inherit: true, latest: 1, arch: ['x86_64', 'noarch'] },
    });
    // No keywords: no struct; a plain trailing struct is a positional argument.
    expect(callParams([1], { event: undefined })).toEqual([1]);
    expect(splitKwargs([{ a: 1 }])).toEqual({ args: [{ a: 1 }], kwargs: {} });
  });

  it('writes faults the client reads back', () => {
    const r = decodeMethodResponse(encodeFault(1019, "Invalid type for value 'f40': <class 'str'>"));
    expect(r).toEqual({ kind: 'fault', fault: expect.any(KojiFault) });
    if (r.kind === 'fault') expect([r.fault.faultCode, r.fault.faultString]).toEqual([1019, "Invalid type for value 'f40': <class 'str'>"]);
  });
});

describe('system.multicall', () => {
  const calls = [
    { method: 'getTag', params: ['f40'] },
    { method: 'getBuild', params: ['nope-1-1'], kwargs: { strict: true } },
    { method: 'getLastEvent' },
  ];

  it('packs calls as {methodName, params} with their keyword arguments', () => {
    expect(multicallParams(calls)).toEqual([
      [
        { methodName: 'getTag', params: ['f40'] },
        { methodName: 'getBuild', params: ['nope-1-1', { strict: true, __starstar: true }] },
        { methodName: 'getLastEvent', params: [] },
      ],
    ]);
  });

  it('unwraps each [result] and turns each fault struct into a KojiFault of that call', () => {
    const answer = roundTripResponse([
      [{ id: 1, name: 'f40' }],
      { faultCode: 1000, faultString: "No such build: 'nope-1-1'" },
      [{ id: 7, ts: new XmlRpcDouble(1795219058.5) }],
    ]);
    const results = multicallResults(answer, calls);
    expect(results[0]).toEqual({ id: 1, name: 'f40' });
    expect(results[1]).toBeInstanceOf(KojiFault);
    expect((results[1] as KojiFault).method).toBe('getBuild');
    expect((results[1] as KojiFault).faultCode).toBe(1000);
    expect(results[2]).toEqual({ id: 7, ts: 1795219058.5 });
  });

  it('refuses an answer that does not match the calls', () => {
    expect(() => multicallResults([[1]], calls)).toThrow(XmlRpcProtocolError);
    expect(() => multicallResults([1, [2], [3]], calls)).toThrow(/malformed result for getTag/);
  });
});
