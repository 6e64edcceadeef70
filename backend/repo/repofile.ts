/**
 * The `.repo` file of a compose with exactly ODCS's keys (reference §2.8, 0.3.x–0.7): one
 * section whose baseurl points at `<result_repo>/$basearch/os`.
 */
export function repoFile(name: string, resultRepo: string): string {
  return [
    `[${name}]`,
    `name=ODCS repository for compose ${name}`,
    `baseurl=${resultRepo}/$basearch/os`,
    'type=rpm-md',
    'skip_if_unavailable=False',
    'gpgcheck=0',
    'repo_gpgcheck=0',
    'enabled=1',
    'enabled_metadata=1',
    '',
  ].join('\n');
}
