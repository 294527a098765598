/**
 * Device rules: the default allow list, v1 lines, and the v2 eBPF program,
 * checked by running the generated instructions in the TypeScript evaluator
 * (the kernel test is in test/integration/cgroups).
 */
import t from 'tap';
import {
  buildDeviceProgram,
  DEFAULT_DEVICE_RULES,
  deviceRuleV1Line,
  encodeProgram,
  evaluateDeviceProgram,
  normalizeDeviceRule,
} from '../../../lib/cgroups/index.js';
import type { DeviceCgroupRule } from '../../../lib/spec/types.js';

const prog = (rules: DeviceCgroupRule[]) => buildDeviceProgram(rules.map((r, i) => normalizeDeviceRule(r, i)));

t.test('DEFAULT_DEVICE_RULES', async (t) => {
  const devs = DEFAULT_DEVICE_RULES.map((r) => `${r.type} ${r.major}:${r.minor}`);
  t.same(devs, ['c 1:3', 'c 1:5', 'c 1:7', 'c 1:8', 'c 1:9', 'c 5:0', 'c 5:1', 'c 5:2', 'c 136:-1']);
  t.ok(DEFAULT_DEVICE_RULES.every((r) => r.allow && r.access === 'rwm'));
  t.ok(Object.isFrozen(DEFAULT_DEVICE_RULES) && Object.isFrozen(DEFAULT_DEVICE_RULES[0]));
});

t.test('normalize and v1 lines', async (t) => {
  t.same(normalizeDeviceRule({ allow: true }, 0), { allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' });
  t.same(normalizeDeviceRule({ allow: false, type: 'c', major: 1, minor: null, access: 'wr' }, 0), { allow: false, type: 'c', major: 1, minor: -1, access: 'rw' });
  t.equal(deviceRuleV1Line(normalizeDeviceRule({ allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' }, 0)), 'c 136:* rwm');
  t.equal(deviceRuleV1Line(normalizeDeviceRule({ allow: true, type: 'b', access: 'm' }, 0)), 'b *:* m');
  t.equal(deviceRuleV1Line(normalizeDeviceRule({ allow: false }, 0)), 'a');
  t.throws(() => normalizeDeviceRule({ allow: true, major: 1.5 }, 3), /devices\[3\]\.major/);
});

t.test('program: default deny', async (t) => {
  const p = prog([]);
  t.notOk(evaluateDeviceProgram(p, 'c', 1, 3, 'r'));
  t.notOk(evaluateDeviceProgram(p, 'b', 8, 0, 'm'));
});

t.test('program: the runtime default list', async (t) => {
  const p = prog([{ allow: false, access: 'rwm' }, ...DEFAULT_DEVICE_RULES]);
  t.ok(evaluateDeviceProgram(p, 'c', 1, 3, 'rw'), '/dev/null');
  t.ok(evaluateDeviceProgram(p, 'c', 1, 7, 'w'), '/dev/full');
  t.ok(evaluateDeviceProgram(p, 'c', 136, 7, 'rw'), '/dev/pts/7');
  t.ok(evaluateDeviceProgram(p, 'c', 1, 9, 'm'), 'mknod urandom');
  t.notOk(evaluateDeviceProgram(p, 'c', 1, 1, 'r'), '/dev/mem');
  t.notOk(evaluateDeviceProgram(p, 'b', 1, 3, 'r'), 'block 1:3 is not char 1:3');
  t.notOk(evaluateDeviceProgram(p, 'b', 8, 0, 'r'), '/dev/sda');
});

t.test('program: last match wins', async (t) => {
  const p = prog([
    { allow: true, type: 'c', major: 1, access: 'rwm' },
    { allow: false, type: 'c', major: 1, minor: 7, access: 'w' },
  ]);
  t.ok(evaluateDeviceProgram(p, 'c', 1, 7, 'r'), 'read of 1:7 only matches the allow');
  t.notOk(evaluateDeviceProgram(p, 'c', 1, 7, 'w'), 'write of 1:7 matches the later deny');
  t.ok(evaluateDeviceProgram(p, 'c', 1, 7, 'rw'), 'rw is not a subset of "w": only the allow matches');
  t.ok(evaluateDeviceProgram(p, 'c', 1, 3, 'w'));
  const q = prog([
    { allow: false, type: 'c', major: 1, minor: 7, access: 'rwm' },
    { allow: true, type: 'c', major: 1, access: 'rwm' },
  ]);
  t.ok(evaluateDeviceProgram(q, 'c', 1, 7, 'w'), 'a later allow overrides an earlier deny');
});

t.test('program: access subsets and "a" rules', async (t) => {
  const p = prog([{ allow: true, type: 'c', major: 4, minor: 1, access: 'r' }]);
  t.ok(evaluateDeviceProgram(p, 'c', 4, 1, 'r'));
  t.notOk(evaluateDeviceProgram(p, 'c', 4, 1, 'w'));
  t.notOk(evaluateDeviceProgram(p, 'c', 4, 1, 'rw'));
  const all = prog([{ allow: true, type: 'c', major: 4, minor: 1, access: 'r' }, { allow: true }]);
  t.ok(evaluateDeviceProgram(all, 'b', 8, 0, 'rwm'), 'allow-all at the end');
  t.equal(all.length, 6 + 2, 'nothing after an "a" rule is emitted');
  const denyAll = prog([{ allow: true }, { allow: false }]);
  t.notOk(evaluateDeviceProgram(denyAll, 'c', 1, 3, 'r'));
});

t.test('encoding', async (t) => {
  const p = prog([{ allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }]);
  const buf = encodeProgram(p);
  t.equal(buf.length, p.length * 8);
  // First instruction: r2 = *(u32 *)(r1 + 0) -> code 0x61, regs src=1 dst=2.
  t.same([...buf.subarray(0, 8)], [0x61, 0x12, 0, 0, 0, 0, 0, 0]);
  // Last instruction: exit.
  t.equal(buf[buf.length - 8], 0x95);
  // Every jump lands inside the program.
  p.forEach((ins, i) => {
    if (ins.code === 0x55) t.ok(i + 1 + ins.off < p.length && ins.off >= 0, `jump at ${i} in range`);
  });
});
