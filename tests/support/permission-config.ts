import type { ConfigInput } from '../../common/config';

export const RAW_CONFIG = { url: 'https://git.example.com/pungi-cfg.git', config_filename: 'pungi.conf' };

/** The configuration of the §4.4 examples. */
export const SECTION_4_4: ConfigInput = {
  allowed_clients: {
    users: {
      dev: { arches: ['ppc64', 's390', 'x86_64'] },
      dev2: { source_types: ['module', 'raw_config'], compose_types: ['test', 'nightly'] },
      dev3: { source_types: ['tag'], target_dirs: ['releng-private'] },
      dev4: { source_types: ['raw_config'], raw_config_keys: ['pungi_cfg2'] },
    },
    groups: {
      composer: {},
      dev2: { source_types: ['module'] },
      dev3: { source_types: ['raw_config'] },
    },
  },
  admins: { users: ['root'], groups: ['admins-group'] },
  raw_config_urls: { pungi_cfg: RAW_CONFIG, pungi_cfg2: RAW_CONFIG },
  extra_target_dirs: { 'releng-private': '/mnt/private' },
  allowed_repo_roots: ['/srv/repos'],
};
