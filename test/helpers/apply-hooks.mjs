/**
 * Preloaded into the built CLI (`node --import`) by test/apply-transaction.test.ts to reach the
 * applier at known moments. It says on stderr when staging (`apply-hooks: staging`) and
 * renaming (`apply-hooks: renaming`) begin, makes each temp file and rename take `slowMs`
 * longer so a signal can land in the middle, and with `enospcAt=N` makes the Nth temp file's
 * write stop halfway as on a full disk. Set by APPLY_HOOKS="slowMs=4,enospcAt=30".
 */
import fs from "node:fs";

const options = Object.fromEntries(
  (process.env.APPLY_HOOKS ?? "")
    .split(",")
    .filter(Boolean)
    .map((pair) => pair.split("="))
    .map(([key, value]) => [key, Number(value)]),
);
const said = new Set();
const say = (moment) => {
  if (said.has(moment)) return;
  said.add(moment);
  fs.writeSync(2, `apply-hooks: ${moment}\n`);
};
// The applier's file system calls are synchronous, so this waits as they do.
const pause = () => options.slowMs > 0 && Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, options.slowMs);
const isTemp = (file) => /\.[0-9a-f]{8}\.tmp$/.test(String(file));

const { openSync, closeSync, writeFileSync, renameSync } = fs;
const tempFds = new Set();
let tempWrites = 0;

fs.openSync = (file, ...rest) => {
  const fd = openSync(file, ...rest);
  if (isTemp(file)) {
    say("staging");
    tempFds.add(fd);
    pause();
  }
  return fd;
};

fs.closeSync = (fd) => {
  tempFds.delete(fd);
  return closeSync(fd);
};

fs.writeFileSync = (target, data, ...rest) => {
  if (tempFds.has(target) && ++tempWrites === options.enospcAt) {
    writeFileSync(target, data.subarray(0, data.length >> 1));
    throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", errno: -28, syscall: "write" });
  }
  return writeFileSync(target, data, ...rest);
};

fs.renameSync = (from, to) => {
  if (isTemp(from)) {
    say("renaming");
    pause();
  }
  return renameSync(from, to);
};
