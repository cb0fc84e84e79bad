// How a reply labels its call: response_status and a bounded response_code.
// Errors carry their code word (the leading capitals Redis puts first: "ERR", "WRONGTYPE");
// only codes Redis defines become labels, anything else is OTHER.
import { ResponseStatus } from "../../api/assembly/codec";

/** The request was wrong for the server's state or data: bad syntax, wrong type, auth, redirects. */
const CLIENT_ERROR_CODES = [
  "ERR", "WRONGTYPE", "NOAUTH", "WRONGPASS", "NOPERM", "NOSCRIPT", "NOPROTO", "EXECABORT",
  "BUSYKEY", "BUSYGROUP", "NOGROUP", "CROSSSLOT", "MOVED", "ASK", "NOTBUSY", "UNBLOCKED", "DENIED",
];
/** The server could not serve a valid request: loading, busy, out of memory, replication or cluster state. */
const SERVER_ERROR_CODES = [
  "LOADING", "BUSY", "MASTERDOWN", "OOM", "MISCONF", "READONLY", "NOREPLICAS", "TRYAGAIN",
  "CLUSTERDOWN", "UNKILLABLE",
];

export const CODE_OK = "OK";
export const CODE_QUEUED = "QUEUED";
export const CODE_NULL = "NULL";
export const CODE_OTHER_ERROR = "OTHER";

export class ErrorLabel {
  constructor(public status: ResponseStatus, public code: string) {}
}

/** Labels an error reply from its code word ("" when the text starts with none). */
export function errorLabel(word: string): ErrorLabel {
  if (word.length > 0) {
    if (CLIENT_ERROR_CODES.includes(word)) return new ErrorLabel(ResponseStatus.ClientError, word);
    if (SERVER_ERROR_CODES.includes(word)) return new ErrorLabel(ResponseStatus.ServerError, word);
  }
  // Scripts and modules may reply any text; an error we cannot place is the server's.
  return new ErrorLabel(ResponseStatus.ServerError, CODE_OTHER_ERROR);
}
