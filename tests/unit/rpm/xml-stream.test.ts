import { XmlSyntaxError, XmlTokenizer, type XmlHandler } from '../../../backend/rpm/xml-stream';

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
