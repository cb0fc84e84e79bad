// Connection phase: the server's greeting (Handshake v10) and the client's HandshakeResponse41,
// which the codec counts as one call, method LOGIN, answered by the end of the auth exchange.
import { Attribute, DecodeResult, Message, MessageKind } from "../../api/assembly/codec";
import {
  CLIENT_COMPRESS, CLIENT_CONNECT_ATTRS, CLIENT_CONNECT_WITH_DB, CLIENT_MYSQL, CLIENT_PLUGIN_AUTH,
  CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA, CLIENT_PROTOCOL_41, CLIENT_SECURE_CONNECTION, CLIENT_SSL, ERR_HEADER,
  HEADER_LENGTH, PROTOCOL_VERSION_10, PayloadReader,
} from "./wire";
import { MySqlState, PendingCommand, Phase, ReplyShape } from "./state";
import { errorMessage } from "./replies";

export const LOGIN_METHOD = "LOGIN";
/** MariaDB prefixes its version with this for old clients that parse "5.5.5" as the version. */
const MARIADB_VERSION_PREFIX = "5.5.5-";
const MAX_NAME_BYTES: i32 = 256;
/** A greeting is ~100 bytes; much longer is not MySQL. */
const MAX_GREETING_PAYLOAD: u32 = 4096;

/** Checks the first bytes of the greeting as soon as they arrive, so non-MySQL upstreams fail fast. */
export function greetingLooksWrong(bytes: Uint8Array): bool {
  if (bytes.length >= HEADER_LENGTH && unchecked(bytes[3]) != 0) return true;
  if (bytes.length >= HEADER_LENGTH) {
    const length = <u32>unchecked(bytes[0]) | (<u32>unchecked(bytes[1]) << 8) | (<u32>unchecked(bytes[2]) << 16);
    if (length == 0 || length > MAX_GREETING_PAYLOAD) return true;
  }
  if (bytes.length > HEADER_LENGTH) {
    const protocol = unchecked(bytes[HEADER_LENGTH]);
    if (protocol != PROTOCOL_VERSION_10 && protocol != ERR_HEADER) return true;
  }
  return false;
}

/** The greeting (payload in bytes[4..end)): an Event, not a call. An ERR greeting (too many connections, host blocked) too. */
export function decodeGreeting(state: MySqlState, bytes: Uint8Array, end: i32, frameLength: u32): DecodeResult {
  const m = new Message();
  m.kind = MessageKind.Event;
  m.isReply = true;
  m.frameLength = frameLength;
  if (unchecked(bytes[HEADER_LENGTH]) == ERR_HEADER) {
    errorMessage(m, bytes, end);
    return DecodeResult.done(m, <u32>end);
  }
  const r = new PayloadReader(bytes, HEADER_LENGTH + 1, end);
  let version = r.nulString(MAX_NAME_BYTES);
  const connectionId = r.u32();
  r.skip(8 + 1); // auth-plugin-data part 1, filler
  let capabilities = <u64>r.u16();
  if (!r.ok) return DecodeResult.error("bad_greeting");
  if (r.remaining > 0) {
    r.u8(); // character set
    r.u16(); // status flags
    capabilities |= <u64>r.u16() << 16;
    r.u8(); // auth-plugin-data length
    r.skip(6);
    const extended = r.u32();
    // MariaDB puts its extended capabilities in the last 4 reserved bytes when CLIENT_MYSQL is clear.
    if (r.ok && (capabilities & CLIENT_MYSQL) == 0) capabilities |= <u64>extended << 32;
  }
  if (version.startsWith(MARIADB_VERSION_PREFIX)) version = version.substring(MARIADB_VERSION_PREFIX.length);
  state.serverCapabilities = capabilities;
  state.phase = Phase.HandshakeResponse;
  m.attributes.push(new Attribute("server_version", version));
  m.attributes.push(new Attribute("connection_id", connectionId.toString()));
  return DecodeResult.done(m, <u32>end);
}

/**
 * The client's HandshakeResponse (payload in bytes[4..end), sequence id 1). An SSLRequest
 * (CLIENT_SSL set) means TLS follows: pass through. Compression wraps everything after the
 * handshake in zlib frames: pass through too (the codec does not inflate).
 */
export function decodeLogin(state: MySqlState, bytes: Uint8Array, end: i32, seq: u8, frameLength: u32): DecodeResult {
  const r = new PayloadReader(bytes, HEADER_LENGTH, end);
  const clientCapabilities = <u64>r.u32();
  if (!r.ok) return DecodeResult.error("bad_handshake_response");
  if ((clientCapabilities & CLIENT_PROTOCOL_41) == 0) return DecodeResult.passThrough("old_protocol");
  if ((clientCapabilities & CLIENT_SSL) != 0) return DecodeResult.passThrough("tls");
  r.u32(); // max packet size
  r.u8(); // character set
  r.skip(19);
  const extended = <u64>r.u32();
  const user = r.nulString(MAX_NAME_BYTES);
  if (!r.ok) return DecodeResult.error("bad_handshake_response");

  let capabilities = clientCapabilities & state.serverCapabilities & 0xffffffff;
  if ((clientCapabilities & CLIENT_MYSQL) == 0) capabilities |= (extended << 32) & state.serverCapabilities;
  if ((capabilities & CLIENT_COMPRESS) != 0) return DecodeResult.passThrough("compressed");
  state.capabilities = capabilities;

  // The rest may be cut short (a prefix of a huge packet) or absent in old clients: read what is there.
  if ((clientCapabilities & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) != 0) r.skip(<i32>min<u64>(r.lenenc(), <u64>i32.MAX_VALUE));
  else if ((clientCapabilities & CLIENT_SECURE_CONNECTION) != 0) r.skip(r.u8());
  else r.nulString(0);
  const database = (clientCapabilities & CLIENT_CONNECT_WITH_DB) != 0 ? r.nulString(MAX_NAME_BYTES) : "";
  const plugin = (clientCapabilities & CLIENT_PLUGIN_AUTH) != 0 ? r.nulString(MAX_NAME_BYTES) : "";

  const m = new Message();
  m.kind = MessageKind.Request;
  m.method = LOGIN_METHOD;
  m.service = database;
  m.frameLength = frameLength;
  m.truncated = <u32>end < frameLength;
  m.attributes.push(new Attribute("user", user));
  if (database.length > 0) m.attributes.push(new Attribute("database", database));
  if (plugin.length > 0) m.attributes.push(new Attribute("auth_plugin", plugin));
  if (r.ok && (clientCapabilities & CLIENT_CONNECT_ATTRS) != 0) readConnectAttributes(r, m);

  const login = new PendingCommand().reset(ReplyShape.Auth, LOGIN_METHOD, database, seq + 1);
  login.newDatabase = database;
  state.pushCommand(login);
  state.phase = Phase.Commands;
  return DecodeResult.done(m, <u32>end);
}

/** Keeps the connection attributes that name the client program; the rest stay unread. */
function readConnectAttributes(r: PayloadReader, m: Message): void {
  const length = r.lenenc();
  if (!r.ok) return;
  const end = <i32>min<u64>(<u64>r.pos + length, <u64>r.end);
  const attributes = new PayloadReader(r.bytes, r.pos, end);
  // Each pair takes at least two bytes, so this ends.
  while (attributes.ok && attributes.remaining > 0) {
    const key = attributes.lenencString(MAX_NAME_BYTES);
    const value = attributes.lenencString(MAX_NAME_BYTES);
    if (!attributes.ok) break;
    if (key == "_client_name" || key == "_client_version" || key == "program_name") m.attributes.push(new Attribute(key, value));
  }
}
