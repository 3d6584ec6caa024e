/**
 * wire: the card's wire format, between core (the scheme) and the two ends of the card channel
 * (firmware-sim and reader-bridge). ISO 7816-4 APDUs, the USB HID framing of APDUs, and the e-cash
 * applet's message codecs (docs/apdu.md, docs/hid.md). Pure byte layouts: no I/O, and it depends
 * on core alone.
 */
export * from './apdu.js';
export * from './hid-framing.js';
export * from './card-protocol.js';
export * from './error-codes.js';
