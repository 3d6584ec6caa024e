import { VirtualTransport } from '../../reader-bridge/index.js';
import { conformanceSuite } from './conformance.js';

const READER = 'Virtual Reader 0';

conformanceSuite('virtual transport', async () => {
  const transport = new VirtualTransport([READER]);
  return {
    transport,
    reader: READER,
    removalEvent: 'card-removed',
    insert: async (card) => transport.insertCard(READER, card),
    remove: async () => transport.removeCard(READER),
    unplugReader: async () => transport.removeReader(READER),
    close: () => transport.close(),
  };
});
