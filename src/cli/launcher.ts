// Started through `npx fairpatch …` or an npm script, this process runs under `sh -c`, itself under
// npm. A SIGTERM to npm reaches the shell, which dies without passing it on (dash does not exec a
// command it was given with arguments): this process was left running, reparented. npm marks the
// processes it starts (npm_command in the environment); for those, the shell disappearing is taken
// as the SIGTERM it swallowed, so the command's own handler stops it cleanly.

/** How often the parent is checked: a stop within a second or two is what an operator expects. */
const CHECK_MS = 500;

export function stopWithLauncher(env: NodeJS.ProcessEnv = process.env): void {
  if (!env.npm_command) return;
  // Already reparented to init while starting: the launcher is gone.
  if (process.ppid === 1) setImmediate(() => process.kill(process.pid, 'SIGTERM'));
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, CHECK_MS);
  // Never what keeps a finished command alive.
  timer.unref();
}
