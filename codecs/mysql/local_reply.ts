// Replies the proxy sends in a command's place, and the probe that makes room for them.
import { LocalReply, LocalReplyKind } from "../../api/assembly/codec";
import { errorStatus } from "./errors";
import { CLIENT_PROTOCOL_41, COM_PING, ERR_HEADER, HEADER_LENGTH } from "./wire";

/**
 * libmysqlclient keeps an error message in a buffer of MYSQL_ERRMSG_SIZE (512) bytes, NUL
 * included, and cuts longer ones: past that, the text is cut here, on a character boundary.
 */
const MAX_MESSAGE_BYTES: i32 = 511;

/** The code and SQLSTATE of a local reply: what the server itself sends in the same situation. */
class ServerError {
  constructor(public code: u16, public sqlState: string) {}
}

/**
 * Denied: ER_TABLEACCESS_DENIED_ERROR, what the server answers a statement the user lacks the
 * privilege for; clients and ORMs treat it as an access error, not a reason to retry.
 */
const DENIED = new ServerError(1142, "42000");
/** Rate limited: ER_USER_LIMIT_REACHED, the server's own answer past max_queries_per_hour. */
const RATE_LIMITED = new ServerError(1226, "42000");
/**
 * Fault: ER_QUERY_INTERRUPTED, a server-side failure of this one statement that says nothing
 * about the connection or the transaction (unlike deadlock or lock-wait errors, which tell the
 * client its transaction was rolled back, or 08xxx states, which make drivers drop the connection).
 */
const FAULT = new ServerError(1317, "70100");
/** Overloaded: ER_OUT_OF_RESOURCES, the server's answer when it cannot take more work. */
const OVERLOADED = new ServerError(1041, "HY000");

function errorFor(kind: LocalReplyKind): ServerError {
  switch (kind) {
    case LocalReplyKind.Denied: return DENIED;
    case LocalReplyKind.RateLimited: return RATE_LIMITED;
    case LocalReplyKind.Fault: return FAULT;
    default: return OVERLOADED;
  }
}

/** The UTF-8 bytes of `text`, at most MAX_MESSAGE_BYTES, never ending inside a character. */
function messageBytes(text: string): Uint8Array {
  const bytes = Uint8Array.wrap(String.UTF8.encode(text));
  if (bytes.length <= MAX_MESSAGE_BYTES) return bytes;
  let end = MAX_MESSAGE_BYTES;
  while (end > 0 && (unchecked(bytes[end]) & 0xc0) == 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * An ERR packet with sequence id `seq` (where the refused command's reply starts) saying `text`.
 * Since protocol 4.1 an ERR carries '#' and the SQLSTATE before the message; without
 * CLIENT_PROTOCOL_41 negotiated, the message follows the code.
 */
export function errorReply(kind: LocalReplyKind, text: string, seq: u8, capabilities: u64): LocalReply {
  const error = errorFor(kind);
  const message = messageBytes(text);
  const protocol41 = (capabilities & CLIENT_PROTOCOL_41) != 0;
  const payloadLength = 3 + (protocol41 ? 6 : 0) + message.length;
  const out = new Uint8Array(HEADER_LENGTH + payloadLength);
  out[0] = <u8>payloadLength;
  out[1] = <u8>(payloadLength >> 8);
  out[2] = <u8>(payloadLength >> 16);
  out[3] = seq;
  out[4] = ERR_HEADER;
  out[5] = <u8>error.code;
  out[6] = <u8>(error.code >> 8);
  let at = 7;
  if (protocol41) {
    out[at++] = 0x23; // '#'
    for (let i = 0; i < 5; i++) out[at++] = <u8>error.sqlState.charCodeAt(i);
  }
  out.set(message, at);
  return new LocalReply(out, errorStatus(error.code), error.code.toString());
}

/** COM_PING: answered by one OK packet (sequence id 1), changing nothing on the server. */
export function pingProbe(): Uint8Array {
  const out = new Uint8Array(HEADER_LENGTH + 1);
  out[0] = 1;
  out[4] = COM_PING;
  return out;
}
