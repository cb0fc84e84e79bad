// Replies the proxy sends in a command's place, and the probe that makes room for them.
import { LocalReply, LocalReplyKind } from "../../api/assembly/codec";
import { errorLabel } from "./reply_status";

const PING = String.UTF8.encode("*1\r\n$4\r\nPING\r\n");

/**
 * An error reply: NOPERM for a denied command (Redis's own word for an ACL refusal), ERR for a
 * rate limit or an injected fault. The text stays on one line.
 */
export function errorReply(kind: LocalReplyKind, text: string): LocalReply {
  const word = kind == LocalReplyKind.Denied ? "NOPERM" : "ERR";
  const line = text.replaceAll("\r", " ").replaceAll("\n", " ");
  const label = errorLabel(word);
  return new LocalReply(Uint8Array.wrap(String.UTF8.encode("-" + word + " " + line + "\r\n")), label.status, label.code);
}

/** PING: answered with one reply in RESP2 and RESP3 alike, outside MULTI and subscribed mode. */
export function pingProbe(): Uint8Array {
  return Uint8Array.wrap(PING);
}
