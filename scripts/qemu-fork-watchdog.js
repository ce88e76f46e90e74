#!/usr/bin/env node
// Watches the processes below a root process for children that qemu-user forked but that never reached exec,
// and kills them (only processes whose argv[0] is a qemu-* emulator).
//
// Why: under qemu-user (Debian's 7.2) a multi-threaded guest that forks can leave the child deadlocked inside
// the emulator, on a lock another thread held at the fork, before it execs anything (seen on 2026-12-02: a
// spec's spawnSync waited on it for 20 minutes at 0 % CPU; the mocha timeout cannot fire while spawnSync blocks
// the event loop, so the whole arm64 run hangs). Such a child still shows its parent's command line and uses
// no CPU; a child on its way to exec shows it for milliseconds. Killing it turns the hang into a failed spawn,
// which test/helpers/node-child.ts retries.
//
//   node scripts/qemu-fork-watchdog.js <root pid> [stuck seconds, default 30]
// Exits when the root process is gone.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const root = Number(process.argv[2]);
const stuckSeconds = Number(process.argv[3] ?? 30);
if (!Number.isInteger(root) || root <= 0 || !(stuckSeconds > 0)) {
  console.error('usage: node scripts/qemu-fork-watchdog.js <root pid> [stuck seconds]');
  process.exit(2);
}

function read(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** pid -> { ppid, cpu (utime + stime ticks), cmdline } for every process readable now. */
function processes() {
  const table = new Map();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = read(`/proc/${entry}/stat`);
    const cmdline = read(`/proc/${entry}/cmdline`);
    if (stat === undefined || cmdline === undefined) continue;
    // The command name (field 2) is in parentheses and may hold spaces: the fields after it are split.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    table.set(Number(entry), { ppid: Number(fields[1]), cpu: Number(fields[11]) + Number(fields[12]), cmdline });
  }
  return table;
}

function below(table, ancestor, pid) {
  for (let p = table.get(pid)?.ppid; p !== undefined && p > 1; p = table.get(p)?.ppid) if (p === ancestor) return true;
  return false;
}

/** pid -> { cpu, since }: children seen with their parent's command line, and since when at that CPU time. */
const suspects = new Map();

function scan() {
  const table = processes();
  if (!table.has(root)) process.exit(0);
  const now = Date.now();
  for (const [pid, info] of table) {
    const parent = table.get(info.ppid);
    // Only the emulator's children: a shell's subshells are forks without exec too, and may wait idle.
    const emulator = path.basename(info.cmdline.split('\0')[0]).startsWith('qemu-');
    const unexeced = emulator && parent !== undefined && info.cmdline === parent.cmdline && below(table, root, pid);
    if (!unexeced) {
      suspects.delete(pid);
      continue;
    }
    const seen = suspects.get(pid);
    if (seen === undefined || seen.cpu !== info.cpu) {
      suspects.set(pid, { cpu: info.cpu, since: now });
    } else if (now - seen.since >= stuckSeconds * 1000) {
      const command = info.cmdline.split('\0').slice(0, 6).join(' ');
      console.error(`\nqemu-fork-watchdog: killing ${pid}, forked by ${info.ppid} and stuck before exec for ${stuckSeconds} s at no CPU (a qemu-user fork deadlock): ${command} ...`);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
      suspects.delete(pid);
    }
  }
  for (const pid of suspects.keys()) if (!table.has(pid)) suspects.delete(pid);
}

setInterval(scan, 2000);
scan();
