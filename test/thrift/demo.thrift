// The service the Thrift rig and fixtures use. Code for Node (npm thrift 0.17) and Python
// (python3-thrift 0.17) is generated from this file at test time by the Debian `thrift`
// compiler 0.17; nothing generated is checked in.
namespace py metaproto_demo

exception NotFound {
  1: string key,
  2: i32 code,
}

exception Invalid {
  1: string reason,
}

/** Every Thrift value type, so captured sessions exercise every encoding of both protocols. */
struct Item {
  1: string key,
  2: i64 version,
  3: list<string> tags,
  4: map<string, i32> counts,
  5: bool active,
  6: double score,
  7: binary blob,
  8: optional Item parent,
  9: set<i16> flags,
  10: i8 small,
  11: list<bool> switches,
  12: map<i32, list<Item>> children,
  13: bool inactive,
  14: i32 negative,
  15: i64 large,
  16: list<double> ratios,
}

service Greeter {
  /** Answers "Hello <name>". */
  string sayHello(1: string name),
  /** Fire and forget: no reply on the wire. */
  oneway void notify(1: string event),
  /** Throws NotFound (result field 1) for keys starting with "missing", Invalid (2) for "". */
  Item lookup(1: string key) throws (1: NotFound notFound, 2: Invalid invalid),
  /** The server throws an undeclared error: the client gets a TApplicationException. */
  void crash(1: string why),
  Item echo(1: Item item),
}

/** What clients call: Greeter plus a method no server implements (TApplicationException UNKNOWN_METHOD). */
service GreeterWithUnimplemented extends Greeter {
  void missing(),
}
