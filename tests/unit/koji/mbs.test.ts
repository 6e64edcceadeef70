/** MBS client helpers (kept beside the Koji unit tests: the MBS client is part of the Koji-family sources). */
import { parseModulemd, queryParams, streamVersion, unionDeps } from '../../../backend/mbs/client';

describe('MBS helpers', () => {
  it('computes MBS stream versions', () => {
    expect(streamVersion('f27')).toBe(270000);
    expect(streamVersion('f27.0.1')).toBe(270001);
    expect(streamVersion('el8.2.0')).toBe(80200);
    expect(streamVersion('el8.10.0-z')).toBe(81000);
    expect(streamVersion('el8', false)).toBe(8);
    expect(streamVersion('rawhide')).toBeNull();
  });

  it('builds the query ODCS sends', () => {
    const p = queryParams({
      nsvc: 'nodejs:12',
      states: ['done', 5],
      baseModuleBrName: 'platform',
      baseModuleBrStreamVersionLte: 300000,
      baseModuleBrStreamVersionGte: 300000,
    });
    expect(p).toEqual({
      nsvc: 'nodejs:12',
      state: ['3', '5'],
      verbose: 'true',
      order_desc_by: 'version',
      base_module_br_name: 'platform',
      base_module_br_stream_version_lte: '300000',
      base_module_br_stream_version_gte: '300000',
    });
  });

  it('reads runtime dependencies from modulemd v2 and v1', () => {
    const v2 = parseModulemd(`---
document: modulemd
version: 2
data:
  name: app
  stream: "1"
  version: 20260101000000
  context: c0ffee43
  dependencies:
  - buildrequires:
      platform: [f30]
    requires:
      platform: [f30]
      nodejs: ["12"]
  - requires:
      platform: [f31]
      python: []
...
`);
    expect(v2.mdversion).toBe(2);
    expect(v2.runtimeDeps).toEqual([
      { platform: ['f30'], nodejs: ['12'] },
      { platform: ['f31'], python: [] },
    ]);
    expect(unionDeps(v2.runtimeDeps)).toEqual({ platform: ['f30', 'f31'], nodejs: ['12'], python: [] });
    const v1 = parseModulemd('document: modulemd\nversion: 1\ndata:\n  requires:\n    platform: f28\n    perl: 5.26\n');
    expect(v1.runtimeDeps).toEqual([{ platform: ['f28'], perl: ['5.26'] }]);
    expect(() => parseModulemd('document: modulemd\nversion: 3\ndata: {}\n')).toThrow(/unsupported modulemd version 3/);
    expect(() => parseModulemd('document: modulemd-defaults\nversion: 1\ndata: {}\n')).toThrow(/no modulemd document/);
  });
});
