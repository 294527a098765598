/**
 * lib/sys/nsfs: the kernel's NS_GET_NSTYPE answer for /proc/self/ns/* (readable
 * by anyone), a regular file, a directory and a missing path.
 */
import t from 'tap';
import { existsSync } from 'node:fs';
import { inspectNamespaceFile, namespaceTypeOfFlag, currentNamespace } from '../../../lib/sys/nsfs.js';
import { NAMESPACES } from '../../../lib/spec/tables.js';
import type { NamespaceType } from '../../../lib/spec/types.js';

t.test('every namespace type of /proc/self/ns', async (t) => {
  for (const [type, { procName, flag }] of Object.entries(NAMESPACES) as [NamespaceType, { procName: string; flag: number }][]) {
    const path = `/proc/self/ns/${procName}`;
    if (!existsSync(path)) {
      t.comment(`${path}: not in this kernel`);
      continue;
    }
    const info = inspectNamespaceFile(path);
    t.equal(info.kind, 'namespace', path);
    if (info.kind === 'namespace') {
      t.equal(info.type, type, path);
      t.equal(info.flag, flag, path);
      t.same(currentNamespace(type), { dev: info.dev, ino: info.ino });
    }
    t.equal(namespaceTypeOfFlag(flag), type);
  }
});

t.test('files that are not namespaces', async (t) => {
  t.same(inspectNamespaceFile('/etc/hostname'), { kind: 'not-namespace' });
  t.same(inspectNamespaceFile('/proc/self/ns'), { kind: 'not-namespace' });
  t.same(inspectNamespaceFile('/dev/null'), { kind: 'not-namespace' });
  const missing = inspectNamespaceFile('/nonexistent/ns/net');
  t.equal(missing.kind, 'unopenable');
  if (missing.kind === 'unopenable') t.equal(missing.code, 'ENOENT');
  t.equal(namespaceTypeOfFlag(0x1), undefined);
});
