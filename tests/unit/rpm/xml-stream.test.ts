import { XmlSyntaxError, XmlTokenizer, XmlTokenTooLongError, type XmlHandler } from '../../../backend/rpm/xml-stream';

const DOC = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE metadata>
<!-- a comment with <tags> & things -->
<metadata xmlns="http://linux.duke.edu/metadata/common" xmlns:rpm="http://linux.duke.edu/metadata/rpm">
<package type='rpm'>
  <name>caf\u00e9-\u{1F600}</name>
  <rpm:entry name="a &amp; b &lt;&gt; &quot;q&quot; &apos;s&apos; &#65;&#x42;" flags="GE" ver="1"/>
  <rpm:entry
     name="(x or y)"   />
  <description><![CDATA[raw <b>text</b> & more]]> and &amp; after</description>
  <empty></empty>
</package>
</metadata>
`;

/** Records events as strings, asking for text inside name/description/empty. */
function record(chunks: Buffer[]): string[] {
  const events: string[] = [];
  let text = '';
  const h: XmlHandler = {
    wantText: false,
    open(name, attrs, selfClosing) {
      const a = ['type', 'name', 'flags', 'ver', 'missing'].map((k) => attrs.get(k)).filter((v) => v !== undefined);
      events.push(`open ${name}${selfClosing ? '/' : ''} ${JSON.stringify(a)}`);
      if (['name', 'description', 'empty'].includes(name)) {
        h.wantText = true;
        text = '';
      }
    },
    text(t) {
      text += t;
    },
    close(name) {
      if (h.wantText) events.push(`text ${JSON.stringify(text)}`);
      h.wantText = false;
      events.push(`close ${name}`);
    },
  };
  const tokenizer = new XmlTokenizer(h);
  for (const c of chunks) tokenizer.write(c);
  tokenizer.end();
  return events;
}

describe('XmlTokenizer', () => {
  const bytes = Buffer.from(DOC);
  const whole = record([bytes]);

  it('reports elements, decoded attributes and text', () => {
    expect(whole).toEqual([
      'open metadata []',
      'open package ["rpm"]',
      'open name []',
      `text ${JSON.stringify('caf\u00e9-\u{1F600}')}`,
      'close name',
      `open entry/ ${JSON.stringify(['a & b <> "q" \'s\' AB', 'GE', '1'])}`,
      'close entry',
      'open entry/ ["(x or y)"]',
      'close entry',
      'open description []',
      'text "raw <b>text</b> & more and & after"',
      'close description',
      'open empty []',
      'text ""',
      'close empty',
      'close package',
      'close metadata',
    ]);
  });

  it('gives the same events however the input is cut', () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(record([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(whole);
    }
    const oneByOne = [...bytes].map((b) => Buffer.from([b]));
    expect(record(oneByOne)).toEqual(whole);
  });

  it('fails on truncated documents and broken markup', () => {
    expect(() => record([bytes.subarray(0, bytes.length - 20)])).toThrow(XmlSyntaxError);
    expect(() => record([Buffer.from('<a b=c></a>')])).toThrow(/unquoted/);
    expect(() => record([Buffer.from('<a b></a>')])).toThrow(/without a value/);
  });
});

describe('XmlTokenizer on hostile input', () => {
  const doc = (inner: string | Buffer): Buffer[] => [Buffer.from('<a><name>'), Buffer.from(inner), Buffer.from('</name></a>')];

  it.each([
    ['a NUL reference', 'x&#0;y'],
    ['a NUL reference in hex', 'x&#x0;y'],
    ['a control character reference', 'x&#27;y'],
    ['a lone surrogate', 'x&#xD800;y'],
    ['a surrogate pair written as two references', '&#xD83D;&#xDE00;'],
    ['a reference beyond Unicode', '&#x110000;'],
    ['a raw control character', 'x\u0001y'],
  ])('refuses %s', (_what, text) => {
    expect(() => record(doc(text))).toThrow(XmlSyntaxError);
  });

  it('refuses bytes that are not UTF-8, in text and in attributes', () => {
    for (const bad of [Buffer.from([0xff]), Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82])]) {
      expect(() => record(doc(bad))).toThrow(/not valid UTF-8/);
      expect(() => record([Buffer.from('<a name="'), bad, Buffer.from('"/>')])).toThrow(/not valid UTF-8/);
    }
  });

  it('accepts tabs, newlines and every character XML allows', () => {
    expect(record(doc('a\tb\nc&#9;&#x1F600;\u00e9\uFFFD'))).toContain(`text ${JSON.stringify('a\tb\nc\t\u{1F600}\u00e9\uFFFD')}`);
    expect(record(doc('<![CDATA[&#0; is literal here]]>'))).toContain('text "&#0; is literal here"');
  });

  it('quotes nothing of the document in its errors', () => {
    const secret = 'top-secret-value';
    for (const bad of [`<a ${secret}></a>`, `<a x=${secret}></a>`, `<a><b ${secret}`, `<a x="1"/${secret}>`]) {
      let message = '';
      try {
        record([Buffer.from(bad)]);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe('');
      expect(message).not.toContain('secret');
    }
  });

  it('stops holding an incomplete token beyond maxTokenBytes', () => {
    const h: XmlHandler = { wantText: true, open: () => undefined, close: () => undefined, text: () => undefined };
    const tokenizer = new XmlTokenizer(h, { maxTokenBytes: 1000 });
    tokenizer.write(Buffer.from('<a x="'));
    expect(() => {
      for (let i = 0; i < 10; i++) tokenizer.write(Buffer.alloc(200, 0x61));
    }).toThrow(XmlTokenTooLongError);
  });
});
