import { RemoteTransport, startBridgeServer, VirtualTransport } from '../../reader-bridge/index.js';
import { conformanceSuite, readerState } from './conformance.js';

const READER = 'Bridged Reader 0';
const TOKEN = 'conformance-token-0123456789';

// The remote transport against `ecash bridge serve`'s server on loopback, with a simulated card
// in an in-process reader on the bridge's side.
conformanceSuite('remote bridge', async () => {
  const local = new VirtualTransport([READER]);
  const server = await startBridgeServer({ source: local, token: TOKEN });
  const transport = new RemoteTransport({ url: server.url, token: TOKEN });
  return {
    transport,
    reader: READER,
    removalEvent: 'card-removed',
    insert: async (card) => {
      local.insertCard(READER, card);
      await readerState(transport, READER, true);
    },
    remove: async () => local.removeCard(READER),
    unplugReader: async () => local.removeReader(READER),
    close: async () => {
      await transport.close();
      await server.close();
      await local.close();
    },
  };
});
