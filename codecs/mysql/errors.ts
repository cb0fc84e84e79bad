// Which ERR packets are the client's fault and which the server's (response_status label).
import { ResponseStatus } from "../../api/assembly/codec";

/**
 * Server-side conditions among the 1xxx/3xxx/4xxx codes: resources, limits, locking,
 * shutdown, timeouts, storage failures. The same statement could succeed later or
 * elsewhere; the request itself was fine.
 */
const SERVER_SIDE_CODES: StaticArray<u16> = [
  1021, // ER_DISK_FULL
  1030, // ER_GET_ERRNO (storage engine error)
  1034, // ER_NOT_KEYFILE (corrupt index)
  1037, // ER_OUTOFMEMORY
  1038, // ER_OUT_OF_SORTMEMORY
  1040, // ER_CON_COUNT_ERROR (too many connections)
  1041, // ER_OUT_OF_RESOURCES
  1053, // ER_SERVER_SHUTDOWN
  1114, // ER_RECORD_FILE_FULL (table is full)
  1129, // ER_HOST_IS_BLOCKED
  1135, // ER_CANT_CREATE_THREAD
  1152, // ER_ABORTING_CONNECTION
  1158, 1159, 1160, 1161, // ER_NET_READ_ERROR, _READ_INTERRUPTED, _ERROR_ON_WRITE, _WRITE_INTERRUPTED
  1180, 1181, // ER_ERROR_DURING_COMMIT, _ROLLBACK
  1194, 1195, // ER_CRASHED_ON_USAGE, ER_CRASHED_ON_REPAIR
  1203, // ER_TOO_MANY_USER_CONNECTIONS
  1205, // ER_LOCK_WAIT_TIMEOUT
  1206, // ER_LOCK_TABLE_FULL
  1213, // ER_LOCK_DEADLOCK
  1226, // ER_USER_LIMIT_REACHED
  1290, // ER_OPTION_PREVENTS_STATEMENT (--read-only and the like)
  1317, // ER_QUERY_INTERRUPTED
  1613, 1614, // ER_XA_RBTIMEOUT, ER_XA_RBDEADLOCK
  1637, // ER_TOO_MANY_CONCURRENT_TRXS
  1836, // ER_READ_ONLY_MODE
  1927, // ER_CONNECTION_KILLED (MariaDB)
  1969, // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
  3024, // ER_QUERY_TIMEOUT (MySQL max_execution_time)
  4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL)
];

/**
 * 1xxx, 3xxx and 4xxx codes are SQL and request errors (syntax 1064, unknown table 1146,
 * access denied 1045, duplicate key 1062...): client_error, except the server-side list
 * above. Codes under 1000 (OS errno values) and 2xxx (client-library codes, which a server
 * never sends; a proxy in between might) are server_error.
 */
export function errorStatus(code: u16): ResponseStatus {
  if (code < 1000 || (code >= 2000 && code < 3000)) return ResponseStatus.ServerError;
  for (let i = 0; i < SERVER_SIDE_CODES.length; i++) {
    if (unchecked(SERVER_SIDE_CODES[i]) == code) return ResponseStatus.ServerError;
  }
  return ResponseStatus.ClientError;
}
