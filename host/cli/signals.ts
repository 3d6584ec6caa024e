/**
 * Stopping a long-running command on SIGINT or SIGTERM. The listeners must be in place before the
 * command says it is ready: a supervisor (or a test) that sends SIGTERM as soon as it reads the
 * ready line would otherwise kill the process before it can close its card image, database or
 * sockets, since another process can act between our write and our next line.
 */
export interface StopSignal {
  /** Resolves with the signal's name at the first SIGINT or SIGTERM. */
  readonly received: Promise<NodeJS.Signals>;
  /** Removes the listeners (the default action is back for a second signal). */
  dispose(): void;
}

/** Listens for SIGINT and SIGTERM from now on; call it before announcing readiness. */
export function listenForStop(): StopSignal {
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const received = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (signal) => {
      dispose();
      resolve(signal);
    };
  });
  const dispose = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { received, dispose };
}
