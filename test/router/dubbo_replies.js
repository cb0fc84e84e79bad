'use strict';
// Dubbo replies read off a client socket, for the router rig's clients: bytes are gathered into whole
// frames (16-byte header, body length at offset 12); requests and events are skipped.

/** Calls onReply(frame, id) for every reply frame `socket` receives, then afterChunk() per read. */
function onDubboReplies(socket, onReply, afterChunk = () => {}) {
  let received = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    received = Buffer.concat([received, chunk]);
    while (received.length >= 16) {
      const length = 16 + received.readUInt32BE(12);
      if (received.length < length) break;
      const frame = received.subarray(0, length);
      received = received.subarray(length);
      if ((frame[2] & 0x80) !== 0 || (frame[2] & 0x20) !== 0) continue; // requests and events are not replies
      onReply(frame, Number(frame.readBigUInt64BE(4)));
    }
    afterChunk();
  });
}

module.exports = { onDubboReplies };
